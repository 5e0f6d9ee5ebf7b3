// Turns a failure of a provider call (egress guard, oauth4webapi, bad document) into a
// BrokerError with our own safe wording. A dependency's message never reaches the wire; the
// provider's own OAuth error code may (it is part of the protocol), after a syntax check.
import * as oauth from 'oauth4webapi'
import { BrokerError, type ErrorCode } from '../http/errors'
import { EgressError } from './egress'

const DESCRIPTIONS: Record<string, string> = {
  [oauth.RESPONSE_IS_NOT_JSON]: 'the response is not JSON',
  [oauth.PARSE_ERROR]: 'the response is not valid JSON',
  [oauth.RESPONSE_IS_NOT_CONFORM]: 'the response has an unexpected HTTP status',
  [oauth.INVALID_RESPONSE]: 'the response is malformed',
  [oauth.JSON_ATTRIBUTE_COMPARISON]: 'a value in the response does not match what was expected',
  [oauth.JWT_CLAIM_COMPARISON]: 'a claim of the ID token does not match what was expected',
  [oauth.JWT_TIMESTAMP_CHECK]: 'the ID token is expired or not yet valid',
  [oauth.KEY_SELECTION]: 'no key of the provider matches the token signature',
  [oauth.HTTP_REQUEST_FORBIDDEN]: 'the provider URL is not allowed',
  [oauth.REQUEST_PROTOCOL_FORBIDDEN]: 'the provider URL is not https',
  [oauth.MISSING_SERVER_METADATA]: 'the provider metadata lacks a required endpoint',
  [oauth.INVALID_SERVER_METADATA]: 'the provider metadata is invalid',
}

/** The provider's OAuth error code, if it looks like one (RFC 6749 §5.2 charset, bounded). */
export function providerErrorCode(e: unknown): string | undefined {
  const code = e instanceof oauth.ResponseBodyError || e instanceof oauth.AuthorizationResponseError ? e.error : undefined
  if (e instanceof oauth.WWWAuthenticateChallengeError) {
    const c = e.cause[0]?.parameters.error
    return c && /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(c) ? c : undefined
  }
  return code && /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(code) ? code : undefined
}

/**
 * `what` names the step ("Discovery of https://…") and `code` the error to answer with.
 * Timeouts always become `timeoutCode`.
 */
export function providerFailure(e: unknown, code: ErrorCode, what: string, timeoutCode: ErrorCode = 'provider_timeout'): BrokerError {
  if (e instanceof BrokerError) return e
  if (e instanceof EgressError) {
    if (e.reason === 'timeout') return new BrokerError(timeoutCode, `${what} failed: ${e.message}.`)
    return new BrokerError(code, `${what} failed: ${e.message}.`)
  }
  const oauthCode = providerErrorCode(e)
  if (oauthCode) {
    const err = new BrokerError(code, `${what} failed: the provider answered ${oauthCode}.`)
    err.providerCode = oauthCode
    return err
  }
  const known = e instanceof oauth.OperationProcessingError ? DESCRIPTIONS[e.code ?? ''] : undefined
  return new BrokerError(code, `${what} failed: ${known ?? 'the provider response could not be used'}.`)
}
