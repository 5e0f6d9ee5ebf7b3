// The device authorization grant's calls to the provider (RFC 8628), each one oauth4webapi
// request/process pair: the device authorization request (§3.1-3.2) and the device access
// token request (§3.4-3.5) with its answers sorted into what the polling object does next.
import * as oauth from 'oauth4webapi'
import type { Runtime } from '../config/runtime'
import { oauthOptions } from '../discovery/discover'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError } from '../http/errors'
import { EgressError } from '../net/egress'
import { providerErrorCode, providerFailure } from '../net/provider-errors'
import { refuseReason } from '../net/url-policy'
import { clientOf } from '../registration/service'
import { verifyIdTokenSignature } from '../session/id-token'
import { asOf, type ClientCreds, type TokenSet, toTokenSet } from '../session/provider-calls'

/** RFC 8628 §3.2: without `interval` the client waits 5 seconds between requests. */
export const DEFAULT_INTERVAL_SECONDS = 5
/** A device code that lives longer than this is believed only this long. */
export const MAX_DEVICE_CODE_SECONDS = 1800

export interface DeviceAuthorization {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete?: string
  /** Seconds, at most MAX_DEVICE_CODE_SECONDS. */
  expires_in: number
  /** Seconds, at least 1 (the provider's, or RFC 8628's default 5). */
  interval: number
}

/**
 * §3.1 device authorization request with the broker's client. Provider errors are thrown as
 * oauth4webapi raised them, so that `withClient` can see an `invalid_client`.
 */
export async function requestDeviceAuthorization(
  rt: Runtime,
  md: ProviderMetadata,
  creds: ClientCreds,
  scope: string,
): Promise<DeviceAuthorization> {
  const as = asOf(md)
  const { client, auth } = clientOf({ ...creds, issuer: md.issuer, source: 'cached' })
  const res = await oauth.deviceAuthorizationRequest(as, client, auth, { scope }, oauthOptions(rt))
  const r = await oauth.processDeviceAuthorizationResponse(as, client, res)
  // The verification URIs are opened by a user's browser: only http(s) under the URL policy.
  for (const [name, value] of [
    ['verification_uri', r.verification_uri],
    ['verification_uri_complete', r.verification_uri_complete],
  ] as const) {
    if (value === undefined) continue
    const refused = URL.canParse(value) ? refuseReason(new URL(value), rt.config.allowInsecure) : 'it is not a URL'
    if (refused) throw new BrokerError('authorization_failed', `The provider's ${name} is not allowed (${refused}).`)
  }
  if (!Number.isFinite(r.expires_in) || r.expires_in <= 0)
    throw new BrokerError('authorization_failed', 'The provider gave a device code lifetime that cannot be right.')
  const interval =
    r.interval === undefined
      ? DEFAULT_INTERVAL_SECONDS
      : Number.isFinite(r.interval) && r.interval >= 0
        ? Math.max(1, Math.ceil(r.interval))
        : undefined
  if (interval === undefined) throw new BrokerError('authorization_failed', 'The provider gave a polling interval that cannot be right.')
  return {
    device_code: r.device_code,
    user_code: r.user_code,
    verification_uri: r.verification_uri,
    ...(r.verification_uri_complete !== undefined ? { verification_uri_complete: r.verification_uri_complete } : {}),
    expires_in: Math.min(Math.floor(r.expires_in), MAX_DEVICE_CODE_SECONDS),
    interval,
  }
}

/** What one device access token request told the polling object. */
export type PollAnswer =
  | { kind: 'tokens'; tokens: TokenSet }
  | { kind: 'authorization_pending' }
  | { kind: 'slow_down' }
  | { kind: 'expired_token' }
  | { kind: 'access_denied' }
  /** The grant is dead (refused device code or client, a broken token response). */
  | { kind: 'failed'; error: BrokerError }
  /** Network, timeout or a 5xx: try again later, with backoff. */
  | { kind: 'unavailable'; error: BrokerError }

const WHAT = 'The device access token request'

/** Codes after which polling again cannot succeed (RFC 6749 §5.2 errors of the token endpoint). */
const DEAD = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'invalid_request',
  'unsupported_grant_type',
  'invalid_scope',
])

/** §3.4 device access token request and §3.5 its answer. Never throws. */
export async function pollDeviceToken(rt: Runtime, md: ProviderMetadata, creds: ClientCreds, deviceCode: string): Promise<PollAnswer> {
  const as = asOf(md)
  const { client, auth } = clientOf({ ...creds, issuer: md.issuer, source: 'cached' })
  let res: Response
  try {
    res = await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, oauthOptions(rt))
  } catch (e) {
    return { kind: 'unavailable', error: providerFailure(e, 'authorization_failed', WHAT, 'temporarily_unavailable') }
  }
  const status = res.status
  let result: oauth.TokenEndpointResponse
  try {
    result = await oauth.processDeviceCodeResponse(as, client, res)
  } catch (e) {
    const code = providerErrorCode(e)
    if (code === 'authorization_pending' || code === 'slow_down' || code === 'expired_token' || code === 'access_denied')
      return { kind: code }
    const error = providerFailure(e, 'authorization_failed', WHAT, 'temporarily_unavailable')
    // A 200 that does not check out: the provider has spent the device code on it.
    if (status === 200 || (code && DEAD.has(code))) return { kind: 'failed', error }
    if (e instanceof EgressError || status >= 500 || code === 'server_error' || code === 'temporarily_unavailable' || !code)
      return { kind: 'unavailable', error }
    return { kind: 'failed', error }
  }
  try {
    return { kind: 'tokens', tokens: toTokenSet(result, oauth.getValidatedIdTokenClaims(result)) }
  } catch (e) {
    return { kind: 'failed', error: providerFailure(e, 'authorization_failed', WHAT) }
  }
}

/** The ID token's signature, against the provider's keys (oauth4webapi checked its claims). */
export async function checkIdToken(rt: Runtime, md: ProviderMetadata, tokens: TokenSet, clientId: string): Promise<void> {
  if (tokens.id_token) await verifyIdTokenSignature(rt, md, tokens.id_token, clientId)
}
