// The flows the bench needs: a real broker login (browser redirects + POST /v1/sessions), a
// direct code flow at the provider for another client (the naive client, and tokens to import),
// and POST /v1/sessions/import.
import type http from 'node:http'
import * as oauth from 'oauth4webapi'
import { basic, Jar, postJson } from './http.ts'

export interface BrokerTarget {
  url: string
  app: { id: string; secret: string }
  returnTo: string
  issuer: string
}

export interface CreatedSession {
  session: string
  session_id: string
  access_token: string
  expires_at: number | null
}

export function loginUrl(b: BrokerTarget, state = 'x'): string {
  return `${b.url}/v1/login?${new URLSearchParams({ app: b.app.id, return_to: b.returnTo, issuer: b.issuer, state })}`
}

/** GET /v1/login → provider (auto-login) → /v1/callback → return_to?code → POST /v1/sessions. */
export async function brokerLogin(b: BrokerTarget, jar = new Jar()): Promise<CreatedSession> {
  const back = await jar.follow(loginUrl(b, 'bench'), b.returnTo)
  const code = back.searchParams.get('code')
  if (!code) throw new Error(`login failed: ${back.href}`)
  const res = await postJson(`${b.url}/v1/sessions`, { code }, { authorization: basic(b.app.id, b.app.secret) })
  if (res.status !== 201) throw new Error(`POST /v1/sessions: ${res.status} ${res.body}`)
  return JSON.parse(res.body) as CreatedSession
}

const insecure = { [oauth.allowInsecureRequests]: true } as const

export interface OAuthClient {
  client_id: string
  client_secret: string
  redirect_uri: string
}

export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const u = new URL(issuer)
  return oauth.processDiscoveryResponse(u, await oauth.discoveryRequest(u, insecure))
}

/** A code flow straight at the provider (auto-login), code exchanged here: real provider tokens. */
export async function providerTokens(as: oauth.AuthorizationServer, c: OAuthClient, jar: Jar, agent?: http.Agent) {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const auth = new URL(as.authorization_endpoint!)
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: c.client_id,
    redirect_uri: c.redirect_uri,
    scope: 'openid offline_access',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }))
    auth.searchParams.set(k, v)
  const back = await jar.follow(auth.href, c.redirect_uri, 20, agent)
  const client: oauth.Client = { client_id: c.client_id }
  const params = oauth.validateAuthResponse(as, client, back, state)
  const res = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(c.client_secret),
    params,
    c.redirect_uri,
    verifier,
    insecure,
  )
  return oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: nonce })
}

export async function refreshAtProvider(as: oauth.AuthorizationServer, c: OAuthClient, refreshToken: string) {
  const client: oauth.Client = { client_id: c.client_id }
  const res = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(c.client_secret), refreshToken, insecure)
  return oauth.processRefreshTokenResponse(as, client, res)
}

export async function introspect(as: oauth.AuthorizationServer, c: OAuthClient, token: string): Promise<boolean> {
  const client: oauth.Client = { client_id: c.client_id }
  const res = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(c.client_secret), token, insecure)
  return (await oauth.processIntrospectionResponse(as, client, res)).active === true
}

export { oauth }
