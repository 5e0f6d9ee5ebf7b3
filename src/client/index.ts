// A typed client for apps: usable from a Worker, Node 20+ or a browser (fetch + WebCrypto).
// It validates every answer with the broker's own zod schemas and turns errors into
// BrokerApiError with the contract's stable code.
import type * as z from 'zod'
import * as A from '../api/schemas'

export interface BrokerClientOptions {
  /** The broker's origin, e.g. https://broker.example.com */
  baseUrl: string
  /** App credentials, for the app-authenticated routes (server side only). */
  app?: { id: string; secret: string }
  fetch?: (input: Request) => Promise<Response>
}

export class BrokerApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: A.ErrorBody['error'] | 'unexpected_response',
    readonly description: string,
    /** Seconds, from Retry-After (provider_unavailable). */
    readonly retryAfter?: number,
  ) {
    super(`${code}: ${description}`)
    this.name = 'BrokerApiError'
  }
}

type Target = { issuer: string; homeserver?: never } | { homeserver: string; issuer?: never }
export type LoginParams = Target & {
  return_to: string
  state?: string
  prompt?: 'create' | 'login' | 'consent' | 'none'
  login_hint?: string
  device_id?: string
  scope?: string
}

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)))
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('')
}

export class BrokerClient {
  readonly baseUrl: string
  private readonly app: BrokerClientOptions['app']
  private readonly send: (input: Request) => Promise<Response>

  constructor(opts: BrokerClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.app = opts.app
    this.send = opts.fetch ?? ((r) => fetch(r))
  }

  /** @internal */
  async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    opts: { auth?: string; body?: unknown } = {},
  ): Promise<z.output<S>> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (opts.auth) headers.authorization = opts.auth
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const res = await this.send(
      new Request(`${this.baseUrl}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) }),
    )
    const body: unknown = await res.json().catch(() => undefined)
    if (!res.ok) {
      const err = A.ErrorBody.safeParse(body)
      const retry = Number(res.headers.get('retry-after'))
      if (err.success)
        throw new BrokerApiError(
          res.status,
          err.data.error,
          err.data.error_description,
          Number.isFinite(retry) && retry > 0 ? retry : undefined,
        )
      throw new BrokerApiError(res.status, 'unexpected_response', `The broker answered HTTP ${res.status}.`)
    }
    const parsed = schema.safeParse(body)
    if (!parsed.success) throw new BrokerApiError(res.status, 'unexpected_response', 'The broker’s answer does not match its schema.')
    return parsed.data
  }

  private appAuth(): string {
    if (!this.app) throw new TypeError('This call needs the app credentials (BrokerClientOptions.app).')
    return `Basic ${btoa(`${this.app.id}:${this.app.secret}`)}`
  }

  discover(target: Target): Promise<A.DiscoveryAnswer> {
    const q = new URLSearchParams(target.issuer !== undefined ? { issuer: target.issuer } : { homeserver: target.homeserver! })
    return this.call(A.Discovery, 'GET', `/v1/discovery?${q}`)
  }

  register(target: Target): Promise<A.RegistrationAnswer> {
    return this.call(A.Registration, 'POST', '/v1/registrations', { auth: this.appAuth(), body: target })
  }

  /** Where to send a browser (GET /v1/login): no secret involved. */
  loginUrl(appId: string, params: LoginParams): string {
    const q = new URLSearchParams({ app: appId })
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
    return `${this.baseUrl}/v1/login?${q}`
  }

  /** POST /v1/login: a URL the app opens itself (webview, mobile, CLI). */
  startLogin(params: LoginParams): Promise<A.LoginUrlAnswer> {
    return this.call(A.LoginUrl, 'POST', '/v1/login', { auth: this.appAuth(), body: params })
  }

  /** POST /v1/sessions: the broker code from return_to → a session. */
  async createSession(code: string): Promise<{ session: SessionClient; created: A.CreatedSessionAnswer }> {
    const created = await this.call(A.CreatedSession, 'POST', '/v1/sessions', { auth: this.appAuth(), body: { code } })
    return { session: new SessionClient(this, created.session, created), created }
  }

  async importSession(
    body: Target & {
      client_id: string
      scope?: string
      tokens: { access_token: string; refresh_token: string; id_token?: string; expires_at?: number }
    },
  ) {
    const created = await this.call(A.CreatedSession, 'POST', '/v1/sessions/import', { auth: this.appAuth(), body })
    return { session: new SessionClient(this, created.session, created), created }
  }

  /** A session from a handle kept earlier. */
  session(handle: string): SessionClient {
    return new SessionClient(this, handle)
  }
}

export class SessionClient {
  private cached: { access_token: string; expires_at: number | null } | undefined
  private pending: Promise<A.TokenAnswer> | undefined

  constructor(
    private readonly client: BrokerClient,
    readonly handle: string,
    initial?: { access_token: string; expires_at: number | null },
  ) {
    if (initial) this.cached = { access_token: initial.access_token, expires_at: initial.expires_at }
  }

  private get auth() {
    return `Bearer ${this.handle}`
  }

  /** The access token, from memory while it lives longer than `minTtl` seconds. */
  async getToken(opts: { minTtl?: number } = {}): Promise<string> {
    const minTtl = opts.minTtl ?? 60
    const c = this.cached
    if (c && (c.expires_at === null || c.expires_at - Date.now() / 1000 > minTtl)) return c.access_token
    return (await this.ask({ min_ttl: minTtl })).access_token
  }

  /** The resource server rejected `token`: ask for a new one (the broker refreshes once for everyone). */
  async replaceToken(token: string): Promise<string> {
    return (await this.ask({ stale_token_sha256: await sha256Hex(token) })).access_token
  }

  private ask(body: { min_ttl?: number; stale_token_sha256?: string }): Promise<A.TokenAnswer> {
    // One request in flight per client; concurrent callers share it.
    this.pending ??= this.client
      .call(A.Token, 'POST', '/v1/session/token', { auth: this.auth, body })
      .then((t) => {
        this.cached = { access_token: t.access_token, expires_at: t.expires_at }
        return t
      })
      .finally(() => (this.pending = undefined))
    return this.pending
  }

  /** fetch with the access token; on a 401 from the resource server, one retry with a new token. */
  async fetch(input: string | URL, init: RequestInit = {}, send: (r: Request) => Promise<Response> = (r) => fetch(r)): Promise<Response> {
    const attempt = (token: string) => {
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${token}`)
      return send(new Request(input, { ...init, headers }))
    }
    const token = await this.getToken()
    const res = await attempt(token)
    if (res.status !== 401) return res
    await res.body?.cancel()
    return attempt(await this.replaceToken(token))
  }

  async refresh(): Promise<A.TokenAnswer> {
    const t = await this.client.call(A.Token, 'POST', '/v1/session/refresh', { auth: this.auth })
    this.cached = { access_token: t.access_token, expires_at: t.expires_at }
    return t
  }

  info(): Promise<A.SessionInfoAnswer> {
    return this.client.call(A.SessionInfo, 'GET', '/v1/session', { auth: this.auth })
  }

  async accountUrl(opts: { action?: string; device_id?: string } = {}): Promise<string> {
    const q = new URLSearchParams(Object.entries(opts).filter((e): e is [string, string] => e[1] !== undefined))
    return (await this.client.call(A.Url, 'GET', `/v1/session/account${q.size ? `?${q}` : ''}`, { auth: this.auth })).url
  }

  /** POST /v1/session/scope: a URL to send the user to for more scopes. */
  async authorizeScope(scope: string, returnTo: string, state?: string): Promise<string> {
    return (
      await this.client.call(A.LoginUrl, 'POST', '/v1/session/scope', {
        auth: this.auth,
        body: { scope, return_to: returnTo, ...(state ? { state } : {}) },
      })
    ).url
  }

  async logout(opts: { post_logout_redirect_uri?: string; state?: string } = {}): Promise<A.LogoutAnswer> {
    this.cached = undefined
    return this.client.call(A.Logout, 'POST', '/v1/session/logout', { auth: this.auth, body: opts })
  }

  /** For `new WebSocket(url, protocols)` in a browser; server side, send Authorization instead. */
  events(): { url: string; protocols: string[] } {
    return { url: `${this.client.baseUrl.replace(/^http/, 'ws')}/v1/session/events`, protocols: ['broker', `session.${this.handle}`] }
  }
}
