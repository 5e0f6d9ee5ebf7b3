// Start of a login: the authorization URL (code flow, PKCE S256 always, fresh state and nonce)
// with the pending login sealed into `state`. Warm, this does no I/O: metadata and the
// registration come from isolate memory, the rest is crypto.
import * as oauth from 'oauth4webapi'
import * as z from 'zod'
import type { Runtime } from '../config/runtime'
import type { App } from '../config/schema'
import { randomToken, sha256Hex } from '../crypto/hash'
import type { Discovered } from '../discovery/discover'
import type { ProviderMetadata } from '../discovery/metadata'
import { discoverTarget, TargetFields } from '../discovery/target'
import { BrokerError } from '../http/errors'
import { checkDeviceId, deviceFromScope, generateDeviceId, matrixScopes } from '../matrix/scopes'
import { callbackUrl } from '../registration/client-metadata'
import { getRegistration } from '../registration/service'
import { type PendingLogin, sealState, STATE_TTL_SECONDS } from './state'

/** RFC 6749 §3.3 scope-token characters. */
export const SCOPE_TOKENS = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/

export const LoginFields = {
  ...TargetFields,
  state: z.string().max(1024).optional(),
  prompt: z.enum(['create', 'login', 'consent', 'none']).optional(),
  login_hint: z.string().min(1).max(512).optional(),
  device_id: z.string().max(512).optional(),
  scope: z.string().max(2048).regex(SCOPE_TOKENS, 'space-separated scope tokens').optional(),
}
export const LoginOptions = z.object(LoginFields).strict()
export type LoginOptions = z.infer<typeof LoginOptions>

export interface LoginStart {
  url: string
  /** Seconds since the epoch after which the state is refused. */
  expires_at: number
  /** The login's transaction id (not for the wire). */
  txn: string
}

// OpenID Connect Core defines these three; `create` (Initiating User Registration) must be
// advertised in prompt_values_supported to be sent.
const CORE_PROMPTS = ['login', 'consent', 'none']

function checkPrompt(md: ProviderMetadata, prompt: string | undefined) {
  if (!prompt) return
  const offered = md.prompt_values_supported ?? CORE_PROMPTS
  if (!offered.includes(prompt)) throw new BrokerError('invalid_request', `The provider does not support prompt=${prompt}.`)
}

export function scopeFor(d: Discovered, extra: string | undefined, deviceId: string | undefined): string {
  const base = d.homeserver
    ? matrixScopes(d.metadata.scopes_supported, deviceId ?? generateDeviceId())
    : ['openid', ...(d.metadata.scopes_supported?.includes('offline_access') ? ['offline_access'] : [])]
  return [...new Set([...base, ...(extra ? extra.split(' ') : [])])].join(' ')
}

export async function startLogin(
  rt: Runtime,
  app: App,
  returnTo: string,
  opts: LoginOptions,
  origin: string,
  binding: PendingLogin['binding'],
  extra: { session_id?: string; scope?: string } = {},
): Promise<LoginStart> {
  const deviceId = opts.device_id !== undefined ? checkDeviceId(opts.device_id) : undefined
  const d = await discoverTarget(rt, opts, app)
  checkPrompt(d.metadata, opts.prompt)
  const reg = await getRegistration(rt, app, d, origin)
  const redirectUri = callbackUrl(origin)
  const scope = extra.scope ?? scopeFor(d, opts.scope, deviceId)
  const login: PendingLogin = {
    txn: randomToken(24),
    app: app.id,
    return_to: returnTo,
    ...(opts.state !== undefined ? { app_state: opts.state } : {}),
    issuer: d.issuer,
    ...(opts.homeserver !== undefined ? { homeserver: opts.homeserver } : {}),
    client_id: reg.client_id,
    redirect_uri: redirectUri,
    code_verifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
    scope,
    ...(d.homeserver ? { device_id: deviceFromScope(scope) ?? '' } : {}),
    binding,
    ...(extra.session_id ? { session_id: extra.session_id } : {}),
  }
  const now = Math.floor(Date.now() / 1000)
  const state = await sealState(rt.config.stateSecret, login, now)
  const url = new URL(d.metadata.authorization_endpoint)
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: reg.client_id,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce: login.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(login.code_verifier),
    code_challenge_method: 'S256',
    prompt: opts.prompt,
    login_hint: opts.login_hint,
  }
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return { url: url.href, expires_at: now + STATE_TTL_SECONDS, txn: login.txn }
}

/** The browser binding: a random cookie whose hash is sealed into the state. */
export async function newBrowserBinding(): Promise<{ cookie: string; binding: string }> {
  const cookie = randomToken(32)
  return { cookie, binding: await sha256Hex(cookie) }
}
