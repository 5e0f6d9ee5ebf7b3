// The Session object's calls to the provider, each one oauth4webapi request/process pair.
import * as oauth from 'oauth4webapi'
import type { Runtime } from '../config/runtime'
import { oauthOptions } from '../discovery/discover'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError } from '../http/errors'
import { providerErrorCode, providerFailure } from '../net/provider-errors'
import type { AuthMethod } from '../registration/client-metadata'
import { clientOf } from '../registration/service'
import { verifyIdTokenSignature } from './id-token'

export interface ClientCreds {
  client_id: string
  client_secret?: string
  token_endpoint_auth_method: AuthMethod
}

export interface TokenSet {
  access_token: string
  token_type: 'Bearer'
  refresh_token?: string
  id_token?: string
  /** Seconds since the epoch; absent when the provider gives no lifetime. */
  expires_at?: number
  scope?: string
  /** Claims of the validated ID token, when there is one. */
  claims?: { sub: string } & Record<string, unknown>
}

/** Token lifetimes beyond this are treated as a broken provider, not believed. */
const MAX_EXPIRES_IN = 366 * 86_400

export const asOf = (md: ProviderMetadata) => md as unknown as oauth.AuthorizationServer

/** A token endpoint answer as the broker keeps it: Bearer only, a believable lifetime. */
export function toTokenSet(r: oauth.TokenEndpointResponse, claims?: oauth.IDToken): TokenSet {
  if (r.token_type.toLowerCase() !== 'bearer')
    throw new BrokerError('authorization_failed', 'The provider issued a token type other than Bearer.')
  if (r.expires_in !== undefined && (r.expires_in <= 0 || r.expires_in > MAX_EXPIRES_IN)) {
    throw new BrokerError('authorization_failed', 'The provider gave an access token lifetime that cannot be right.')
  }
  return {
    access_token: r.access_token,
    token_type: 'Bearer',
    ...(r.refresh_token ? { refresh_token: r.refresh_token } : {}),
    ...(r.id_token ? { id_token: r.id_token } : {}),
    ...(r.expires_in !== undefined ? { expires_at: Math.floor(Date.now() / 1000) + r.expires_in } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
    ...(claims ? { claims: claims as TokenSet['claims'] & object } : {}),
  }
}

export interface CodeExchange {
  metadata: ProviderMetadata
  client: ClientCreds
  /** The callback query string as the provider sent it. */
  query: string
  state: string
  redirect_uri: string
  code_verifier: string
  nonce: string
  openid: boolean
}

/** Parses the authorization response (state, RFC 9207 iss, error) the oauth4webapi way. */
export function validateCallback(md: ProviderMetadata, clientId: string, query: string, state: string): URLSearchParams {
  return oauth.validateAuthResponse(asOf(md), { client_id: clientId }, new URLSearchParams(query), state)
}

export async function exchangeCode(rt: Runtime, x: CodeExchange): Promise<TokenSet> {
  const as = asOf(x.metadata)
  const { client, auth } = clientOf({ ...x.client, issuer: x.metadata.issuer, source: 'cached' })
  const what = 'The code exchange'
  let result: oauth.TokenEndpointResponse
  try {
    const params = validateCallback(x.metadata, x.client.client_id, x.query, x.state)
    const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, x.redirect_uri, x.code_verifier, oauthOptions(rt))
    result = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: x.nonce, requireIdToken: x.openid })
  } catch (e) {
    throw providerFailure(e, 'authorization_failed', what, 'temporarily_unavailable')
  }
  if (result.id_token) await verifyIdTokenSignature(rt, x.metadata, result.id_token, x.client.client_id)
  return toTokenSet(result, oauth.getValidatedIdTokenClaims(result))
}

export type RefreshFailure = 'rejected' | 'unavailable'

/** Why a refresh failed: the grant is dead (log in again) or the provider is (try later). */
export function classifyRefreshFailure(e: unknown): RefreshFailure {
  const code = providerErrorCode(e)
  return code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client' ? 'rejected' : 'unavailable'
}

/** A refresh grant. The ID token in the answer, if any, is checked by the caller after saving. */
export async function refreshGrant(rt: Runtime, md: ProviderMetadata, creds: ClientCreds, refreshToken: string): Promise<TokenSet> {
  const as = asOf(md)
  const { client, auth } = clientOf({ ...creds, issuer: md.issuer, source: 'cached' })
  const res = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, oauthOptions(rt))
  return toTokenSet(await oauth.processRefreshTokenResponse(as, client, res))
}

/** userinfo with an access token; the subject, or an error if the provider refuses the token. */
export async function userinfo(rt: Runtime, md: ProviderMetadata, clientId: string, accessToken: string): Promise<{ sub: string }> {
  const as = asOf(md)
  const client = { client_id: clientId }
  try {
    const res = await oauth.userInfoRequest(as, client, accessToken, oauthOptions(rt))
    const info = await oauth.processUserInfoResponse(as, client, oauth.skipSubjectCheck, res)
    return { sub: info.sub }
  } catch (e) {
    throw providerFailure(e, 'invalid_grant', 'Checking the access token at userinfo', 'provider_timeout')
  }
}

/** RFC 7009. True when the provider confirmed; false when it has no revocation endpoint. */
export async function revoke(
  rt: Runtime,
  md: ProviderMetadata,
  creds: ClientCreds,
  token: string,
  hint: 'access_token' | 'refresh_token',
): Promise<boolean> {
  if (!md.revocation_endpoint) return false
  const { client, auth } = clientOf({ ...creds, issuer: md.issuer, source: 'cached' })
  try {
    const res = await oauth.revocationRequest(asOf(md), client, auth, token, {
      ...oauthOptions(rt),
      additionalParameters: { token_type_hint: hint },
    })
    await oauth.processRevocationResponse(res)
    return true
  } catch {
    return false
  }
}
