// One Durable Object per user session: the single writer of its tokens and the lock that
// serializes refresh for every caller at every edge location. It is created by the login
// callback (named by the login's txn, so a state completes at most once) or by an import.
import { DurableObject } from 'cloudflare:workers'
import { loadConfig } from '../config/config'
import type { Runtime } from '../config/runtime'
import { keyRing, openAtRest, sealAtRest } from '../crypto/aead'
import { digestsEqual, fromHex, logHash, randomToken, sha256, sha256Hex } from '../crypto/hash'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError, type Outcome, settle, toWire } from '../http/errors'
import type { PendingLogin } from '../login/state'
import { STATE_TTL_SECONDS } from '../login/state'
import { deviceFromScope } from '../matrix/scopes'
import { providerErrorCode } from '../net/provider-errors'
import { whoami } from '../matrix/whoami'
import { verifyIdTokenSignature } from './id-token'
import { type ClientCreds, classifyRefreshFailure, exchangeCode, refreshGrant, revoke, type TokenSet } from './provider-calls'
import { SCHEMA_VERSION, type SealedTokens, type SessionRecord, sessionKeys } from './record'

export const CODE_TTL_SECONDS = 60
/** A refresh that finished this recently answers further refresh needs (a burst shares one). */
export const REFRESH_COALESCE_SECONDS = 5
const MAX_BACKOFF_SECONDS = 60
/** How stale the stored last-use time may get before a token call writes it (1 write/min at most). */
const LAST_USED_WRITE_SECONDS = 60

export interface CompleteInput {
  login: PendingLogin
  state: string
  query: string
  metadata: ProviderMetadata
  client: ClientCreds
  homeserver?: string
}

export interface TokenAnswer {
  access_token: string
  token_type: 'Bearer'
  expires_at: number | null
  scope: string
  refreshed: boolean
}

export interface TokenOptions {
  min_ttl: number
  stale_token_sha256?: string | undefined
  force: boolean
}

export interface SessionView {
  session_id: string
  issuer: string
  user: { sub?: string; user_id?: string; device_id?: string }
  scope: string
  access_token: string
  token_type: 'Bearer'
  expires_at: number | null
}

export interface CreatedSession extends SessionView {
  session: string
}

export interface SessionInfo {
  session_id: string
  issuer: string
  user: { sub?: string; user_id?: string; device_id?: string }
  scope: string
  expires_at: number | null
  created_at: number
  refreshed_at: number | null
  refresh_count: number
  state: 'active' | 'reauth_required'
}

export interface LogoutAnswer {
  revoked: { access_token: boolean; refresh_token: boolean }
  end_session_url?: string
}

export interface AdoptInput {
  app: string
  issuer: string
  homeserver?: string
  metadata: ProviderMetadata
  client: ClientCreds
  tokens: { access_token: string; refresh_token?: string; id_token?: string; expires_at?: number }
  user: { sub?: string; user_id?: string; device_id?: string }
  scope: string
}

export interface ScopeContext {
  app: string
  issuer: string
  homeserver?: string
  scope: string
}

const now = () => Math.floor(Date.now() / 1000)
const ZERO = new Uint8Array(32)
const invalidSession = () =>
  new BrokerError('invalid_session', 'The session handle is unknown, revoked or malformed.', {
    'WWW-Authenticate': 'Bearer realm="broker", error="invalid_token"',
  })
const reauth = () =>
  new BrokerError('reauth_required', 'The provider no longer accepts this session’s refresh token: the user must log in again.', {
    'WWW-Authenticate': 'Bearer realm="broker", error="invalid_token"',
  })

export class Session extends DurableObject<Env> {
  private record: SessionRecord | undefined
  /** The current access token in clear and its hash, so the hot path does no decryption. */
  private hot: { sealed: string; token: string; sha256: string } | undefined
  private inflight: Promise<TokenAnswer> | undefined
  private backoffUntil = 0
  private backoffStep = 0
  private lastUsed = 0
  private versioned = false

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => this.migrate())
  }

  /** Schema versioning, before any call is delivered. */
  private migrate() {
    const kv = this.ctx.storage.kv
    const version = kv.get<number>(sessionKeys.schema) ?? 0
    if (version > SCHEMA_VERSION) throw new Error(`session schema ${version} is newer than this code`)
    this.record = kv.get<SessionRecord>(sessionKeys.record)
    // Migrations of older records go here, keyed by `version`; v1 is the first schema.
    if (this.record && version < SCHEMA_VERSION) kv.put(sessionKeys.schema, SCHEMA_VERSION)
    this.versioned = this.record !== undefined
    this.hot = undefined
  }

  private save(r: SessionRecord) {
    this.record = r
    // Synchronous writes: the output gate holds every answer until they are durable.
    if (!this.versioned) this.ctx.storage.kv.put(sessionKeys.schema, SCHEMA_VERSION)
    this.versioned = true
    this.ctx.storage.kv.put(sessionKeys.record, r)
  }

  private get id() {
    return this.ctx.id.toString()
  }

  private rt(): Runtime {
    return { env: this.env, config: loadConfig(this.env), waitUntil: (p) => this.ctx.waitUntil(p) }
  }

  private async seal(value: string, what: string) {
    return sealAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, `session|${this.id}|${what}`)
  }

  private async open(value: string, what: string) {
    return openAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, `session|${this.id}|${what}`)
  }

  // ---- login ---------------------------------------------------------------------------

  /** The login callback. Refuses a second completion of the same login (replay). */
  complete(input: CompleteInput): Promise<Outcome<{ code: string }>> {
    return settle(async () => {
      if (this.record) throw new BrokerError('invalid_state', 'This login was already completed. Start the login again.')
      const created = now()
      // Claimed before the first await: a concurrent replay sees it and is refused.
      this.save({
        v: SCHEMA_VERSION,
        state: 'pending',
        app: input.login.app,
        issuer: input.login.issuer,
        created_at: created,
        refresh_count: 0,
        cleanup_at: created + STATE_TTL_SECONDS,
      })
      await this.scheduleAlarm()
      try {
        return { code: await this.finishLogin(input, created) }
      } catch (e) {
        this.save({ ...this.record!, state: 'failed' })
        if (e instanceof BrokerError && e.providerCode === 'invalid_client')
          await this.forgetClient(input.login.issuer, input.client.client_id)
        throw e
      }
    })
  }

  private async exchange(input: CompleteInput): Promise<{ tokens: TokenSet; scope: string; user: NonNullable<SessionRecord['user']> }> {
    const rt = this.rt()
    const { login, metadata, client } = input
    const tokens = await exchangeCode(rt, {
      metadata,
      client,
      query: input.query,
      state: input.state,
      redirect_uri: login.redirect_uri,
      code_verifier: login.code_verifier,
      nonce: login.nonce,
      openid: login.scope.split(' ').includes('openid'),
    })
    const scope = tokens.scope ?? login.scope
    const user: NonNullable<SessionRecord['user']> = tokens.claims?.sub ? { sub: tokens.claims.sub } : {}
    if (input.homeserver) {
      const fail = async (e: unknown): Promise<never> => {
        await this.revokeTokens(metadata, client, tokens)
        throw e
      }
      const me = await whoami(rt, input.homeserver, tokens.access_token).catch(fail)
      if (!me.device_id) await fail(new BrokerError('missing_device_id', 'The homeserver did not say which device this login created.'))
      const granted = deviceFromScope(scope) ?? login.device_id
      if (granted && me.device_id !== granted) {
        await fail(new BrokerError('missing_device_id', 'The homeserver reported another device than the one this login asked for.'))
      }
      user.user_id = me.user_id
      if (me.device_id) user.device_id = me.device_id
    }
    return { tokens, scope, user }
  }

  private async finishLogin(input: CompleteInput, created: number): Promise<string> {
    const { login, metadata, client } = input
    const { tokens, scope, user } = await this.exchange(input)
    const codeSecret = randomToken(32)
    this.save({
      v: SCHEMA_VERSION,
      state: 'active',
      app: login.app,
      issuer: login.issuer,
      ...(input.homeserver ? { homeserver: input.homeserver } : {}),
      metadata,
      client: await this.sealClient(client),
      user,
      scope,
      tokens: await this.sealTokens(tokens),
      code: { sha256: await sha256Hex(codeSecret), app: login.app, expires_at: now() + CODE_TTL_SECONDS, used: false },
      // An unredeemed code leaves a session nobody holds: it goes away after the code expires.
      cleanup_at: now() + CODE_TTL_SECONDS + 60,
      created_at: created,
      refresh_count: 0,
    })
    await this.scheduleAlarm()
    await this.log('session_created', { access_token: await logHash(tokens.access_token) })
    return `${this.id}.${codeSecret}`
  }

  /** Scope upgrade (POST /v1/session/scope): the callback lands here and replaces the tokens. */
  completeScope(input: CompleteInput): Promise<Outcome<{ scope: string }>> {
    return settle(async () => {
      const r = this.record
      if (!r || r.state !== 'active' || input.login.session_id !== this.id)
        throw new BrokerError('invalid_state', 'This session no longer exists.')
      if (r.completed_txns?.includes(input.login.txn)) throw new BrokerError('invalid_state', 'This authorization was already completed.')
      this.save({ ...r, completed_txns: [...(r.completed_txns ?? []).slice(-19), input.login.txn] })
      if (this.inflight) await this.inflight.catch(() => {})
      const { tokens, scope, user } = await this.exchange(input)
      const latest = this.record
      if (!latest || latest.state !== 'active' || (latest.user?.sub && user.sub !== latest.user.sub)) {
        await this.revokeTokens(input.metadata, input.client, tokens)
        throw new BrokerError('authorization_failed', 'The provider authorized another user than this session’s.')
      }
      this.save({ ...latest, scope, tokens: await this.sealTokens(tokens, latest.tokens), refreshed_at: now() })
      this.broadcast({ type: 'tokens_refreshed', expires_at: tokens.expires_at ?? null })
      await this.scheduleAlarm()
      return { scope }
    })
  }

  /** POST /v1/sessions: the broker code → the session handle (returned once). */
  redeem(codeSecret: string, appId: string): Promise<Outcome<CreatedSession>> {
    return settle(async () => {
      const r = this.record
      const invalid = () => new BrokerError('invalid_grant', 'The code is unknown, expired, already used or not this app’s.')
      const matches = digestsEqual(await sha256(codeSecret), r?.code ? fromHex(r.code.sha256) : ZERO)
      if (!r?.code || !matches || r.state !== 'active' || r.code.app !== appId) throw invalid()
      if (r.code.used) {
        // RFC 6749 §4.1.2: a replayed code revokes what it granted.
        await this.end('code_replayed')
        throw invalid()
      }
      if (r.code.expires_at < now()) throw invalid()
      const handleSecret = randomToken(32)
      const next: SessionRecord = {
        ...r,
        code: { ...r.code, used: true },
        handle_sha256: await sha256Hex(handleSecret),
        last_used_at: now(),
      }
      delete next.cleanup_at
      this.save(next)
      this.lastUsed = now()
      await this.scheduleAlarm()
      return { session: `${this.id}.${handleSecret}`, ...(await this.view(next)) }
    })
  }

  /** POST /v1/sessions/import: tokens checked by the Worker become a normal session. */
  adopt(input: AdoptInput): Promise<Outcome<CreatedSession>> {
    return settle(async () => {
      if (this.record) throw new BrokerError('invalid_request', 'This session already exists.')
      const handleSecret = randomToken(32)
      const tokens: TokenSet = { token_type: 'Bearer', ...input.tokens }
      const r: SessionRecord = {
        v: SCHEMA_VERSION,
        state: 'active',
        app: input.app,
        issuer: input.issuer,
        ...(input.homeserver ? { homeserver: input.homeserver } : {}),
        metadata: input.metadata,
        client: await this.sealClient(input.client),
        user: input.user,
        scope: input.scope,
        tokens: await this.sealTokens(tokens),
        handle_sha256: await sha256Hex(handleSecret),
        created_at: now(),
        last_used_at: now(),
        refresh_count: 0,
      }
      this.save(r)
      this.lastUsed = now()
      await this.scheduleAlarm()
      await this.log('session_imported', { access_token: await logHash(tokens.access_token) })
      return { session: `${this.id}.${handleSecret}`, ...(await this.view(r)) }
    })
  }

  private async view(r: SessionRecord): Promise<SessionView> {
    const t = r.tokens!
    return {
      session_id: this.id,
      issuer: r.issuer,
      user: r.user ?? {},
      scope: r.scope ?? '',
      access_token: await this.accessToken(t),
      token_type: t.token_type,
      expires_at: t.expires_at ?? null,
    }
  }

  // ---- the session handle's API --------------------------------------------------------

  /** Constant time whatever the cause: a missing session compares against zeros. */
  private async authenticate(secret: string): Promise<SessionRecord> {
    const r = this.record
    const ok = digestsEqual(await sha256(secret), r?.handle_sha256 ? fromHex(r.handle_sha256) : ZERO)
    const current = this.record
    if (!ok || !current?.handle_sha256 || current !== r || (current.state !== 'active' && current.state !== 'reauth_required')) {
      throw invalidSession()
    }
    return current
  }

  info(secret: string): Promise<Outcome<SessionInfo>> {
    return settle(async () => {
      const r = await this.authenticate(secret)
      return {
        session_id: this.id,
        issuer: r.issuer,
        user: r.user ?? {},
        scope: r.scope ?? '',
        expires_at: r.tokens?.expires_at ?? null,
        created_at: r.created_at,
        refreshed_at: r.refreshed_at ?? null,
        refresh_count: r.refresh_count,
        state: r.state === 'active' ? 'active' : 'reauth_required',
      }
    })
  }

  /** POST /v1/session/token and /refresh. */
  token(secret: string, opts: TokenOptions): Promise<Outcome<TokenAnswer>> {
    return settle(async () => {
      await this.authenticate(secret)
      this.touch()
      let r = this.record
      // Only a cold object awaits here (to open the token once); then the decision below reads
      // the record and the in-flight refresh with no await in between.
      for (let i = 0; r?.tokens && this.hot?.sealed !== r.tokens.access_token && i < 3; i++) {
        await this.accessToken(r.tokens)
        r = this.record
      }
      const hot = this.hot
      if (!r || r.state !== 'active' || !r.tokens || !hot || hot.sealed !== r.tokens.access_token) throw r ? reauth() : invalidSession()
      const expiring = r.tokens.expires_at !== undefined && r.tokens.expires_at - now() <= opts.min_ttl
      const rejected = opts.stale_token_sha256 !== undefined && opts.stale_token_sha256 === hot.sha256
      if (!opts.force && !expiring && !rejected) return this.answer(r, hot.token, false)
      if (this.inflight) return this.inflight
      // A burst shares one refresh: one that has just finished answers it too, unless the
      // caller reports that this very token was rejected.
      const recent = r.refreshed_at !== undefined && now() - r.refreshed_at < REFRESH_COALESCE_SECONDS
      if (recent && !rejected) return this.answer(r, hot.token, true)
      return this.refreshShared()
    })
  }

  private answer(r: SessionRecord, accessToken: string, refreshed: boolean): TokenAnswer {
    return { access_token: accessToken, token_type: 'Bearer', expires_at: r.tokens?.expires_at ?? null, scope: r.scope ?? '', refreshed }
  }

  private async accessToken(t: SealedTokens): Promise<string> {
    if (this.hot?.sealed === t.access_token) return this.hot.token
    const token = await this.open(t.access_token, 'access_token')
    this.hot = { sealed: t.access_token, token, sha256: await sha256Hex(token) }
    return token
  }

  private touch() {
    this.lastUsed = now()
    const r = this.record
    if (r && this.lastUsed - (r.last_used_at ?? 0) > LAST_USED_WRITE_SECONDS) this.save({ ...r, last_used_at: this.lastUsed })
  }

  // ---- refresh: one in flight, everyone waits for it ------------------------------------

  private refreshShared(): Promise<TokenAnswer> {
    if (!this.inflight) {
      const p = this.runRefresh().finally(() => {
        if (this.inflight === p) this.inflight = undefined
      })
      this.inflight = p
      // The refresh finishes even if every caller goes away: its result must be saved.
      this.ctx.waitUntil(p.catch(() => {}))
    }
    return this.inflight
  }

  private async runRefresh(): Promise<TokenAnswer> {
    const wait = Math.ceil((this.backoffUntil - Date.now()) / 1000)
    if (wait > 0) throw unavailable(wait)
    const r = this.record
    if (!r || r.state !== 'active' || !r.tokens || !r.metadata || !r.client) throw invalidSession()
    if (!r.tokens.refresh_token) {
      if (r.tokens.expires_at !== undefined && r.tokens.expires_at <= now()) await this.markReauth('no_refresh_token')
      throw reauth()
    }
    // The refresh token is read only here, inside the single flight.
    const refreshToken = await this.open(r.tokens.refresh_token, 'refresh_token')
    const creds = await this.clientCreds(r)
    const rt = this.rt()
    let fresh: TokenSet
    try {
      fresh = await refreshGrant(rt, r.metadata, creds, refreshToken)
    } catch (e) {
      if (classifyRefreshFailure(e) === 'rejected') {
        // The provider no longer knows the client: new logins must register again.
        if (providerErrorCode(e) === 'invalid_client') await this.forgetClient(r.issuer, creds.client_id)
        await this.markReauth('refresh_rejected')
        throw reauth()
      }
      const delay = this.backoff()
      await this.log('refresh_failed', { refresh_token: await logHash(refreshToken), retry_after: delay })
      throw unavailable(delay)
    }
    // Saved before anything else happens, and before any caller is answered: a rotated
    // refresh token must never be lost. Without a new one, the old one stays.
    const latest = this.record
    if (!latest || latest.state !== 'active' || !latest.tokens) {
      // Logged out while the provider answered: do not resurrect the session.
      await this.revokeTokens(r.metadata, creds, fresh)
      throw invalidSession()
    }
    const tokens = await this.sealTokens(fresh, latest.tokens)
    const saved: SessionRecord = {
      ...this.record!,
      tokens,
      refreshed_at: now(),
      refresh_count: latest.refresh_count + 1,
      ...(fresh.scope ? { scope: fresh.scope } : {}),
    }
    this.save(saved)
    this.backoffStep = 0
    this.backoffUntil = 0
    await this.log('tokens_refreshed', {
      old_refresh_token: await logHash(refreshToken),
      refresh_token: fresh.refresh_token ? await logHash(fresh.refresh_token) : 'kept',
      access_token: await logHash(fresh.access_token),
    })
    this.broadcast({ type: 'tokens_refreshed', expires_at: fresh.expires_at ?? null })
    await this.scheduleAlarm()
    if (fresh.id_token) {
      // Checked after saving: a bad ID token must not cost the rotated refresh token. It is
      // then dropped (the previous one stays as the id_token_hint).
      await verifyIdTokenSignature(rt, r.metadata, fresh.id_token, creds.client_id).catch(async () => {
        const cur = this.record
        if (cur?.tokens && latest.tokens)
          this.save({ ...cur, tokens: { ...cur.tokens, ...(latest.tokens.id_token ? { id_token: latest.tokens.id_token } : {}) } })
      })
    }
    return this.answer(saved, fresh.access_token, true)
  }

  private backoff(): number {
    this.backoffStep = Math.min(this.backoffStep + 1, 7)
    const delay = Math.min(MAX_BACKOFF_SECONDS, 2 ** (this.backoffStep - 1))
    this.backoffUntil = Date.now() + delay * 1000
    return delay
  }

  private async forgetClient(issuer: string, clientId: string) {
    const fixed = this.rt().config.staticRegistrations[issuer]
    if (fixed?.client_id === clientId) return // static credentials are the operator's to fix
    await this.env.REGISTRAR.getByName(issuer)
      .forget(clientId)
      .catch(() => {})
  }

  private async markReauth(reason: string) {
    const r = this.record
    if (!r) return
    const next: SessionRecord = { ...r, state: 'reauth_required' }
    delete next.tokens
    this.save(next)
    this.hot = undefined
    this.broadcast({ type: 'reauth_required' })
    await this.scheduleAlarm()
    await this.log('reauth_required', { reason })
  }

  // ---- logout, account, scope ------------------------------------------------------------

  logout(
    secret: string,
    opts: { post_logout_redirect_uri?: string | undefined; state?: string | undefined },
  ): Promise<Outcome<LogoutAnswer>> {
    return settle(async () => {
      const r = await this.authenticate(secret)
      const app = this.rt().config.apps.get(r.app)
      if (opts.post_logout_redirect_uri !== undefined && !app?.return_urls.includes(opts.post_logout_redirect_uri)) {
        throw new BrokerError('invalid_request', 'post_logout_redirect_uri is not one of the app’s return URLs.')
      }
      // A refresh in flight finishes first, so the newest refresh token is the one revoked.
      if (this.inflight) await this.inflight.catch(() => {})
      const cur = this.record ?? r
      const idToken = cur.tokens?.id_token ? await this.open(cur.tokens.id_token, 'id_token') : undefined
      const revoked = await this.end('logout')
      const md = cur.metadata
      const answer: LogoutAnswer = { revoked }
      if (md?.end_session_endpoint) {
        const url = new URL(md.end_session_endpoint)
        if (idToken) url.searchParams.set('id_token_hint', idToken)
        if (cur.client) url.searchParams.set('client_id', cur.client.client_id)
        if (opts.post_logout_redirect_uri) url.searchParams.set('post_logout_redirect_uri', opts.post_logout_redirect_uri)
        if (opts.state) url.searchParams.set('state', opts.state)
        answer.end_session_url = url.href
      }
      return answer
    })
  }

  account(secret: string, opts: { action?: string | undefined; device_id?: string | undefined }): Promise<Outcome<{ url: string }>> {
    return settle(async () => {
      const r = await this.authenticate(secret)
      const md = r.metadata
      if (!md?.account_management_uri) throw new BrokerError('not_supported', 'The provider has no account management page.')
      if (opts.action !== undefined && !md.account_management_actions_supported?.includes(opts.action)) {
        throw new BrokerError('invalid_request', 'The provider does not support that account management action.')
      }
      const url = new URL(md.account_management_uri)
      if (opts.action) url.searchParams.set('action', opts.action)
      if (opts.device_id) url.searchParams.set('device_id', opts.device_id)
      if (r.tokens?.id_token) url.searchParams.set('id_token_hint', await this.open(r.tokens.id_token, 'id_token'))
      return { url: url.href }
    })
  }

  scopeContext(secret: string): Promise<Outcome<ScopeContext>> {
    return settle(async () => {
      const r = await this.authenticate(secret)
      if (r.state !== 'active') throw reauth()
      return { app: r.app, issuer: r.issuer, ...(r.homeserver ? { homeserver: r.homeserver } : {}), scope: r.scope ?? '' }
    })
  }

  // ---- live events (WebSocket hibernation API) -------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return Response.json(
        { error: 'invalid_request', error_description: 'Expected a WebSocket upgrade.' },
        { status: 400, headers: { 'cache-control': 'no-store' } },
      )
    }
    try {
      await this.authenticate(request.headers.get('x-broker-session-secret') ?? '')
    } catch (e) {
      const wire = toWire(e, 'events')
      return Response.json(wire.body, { status: wire.status, headers: { ...wire.headers, 'cache-control': 'no-store' } })
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket]
    this.ctx.acceptWebSocket(server)
    const protocol = request.headers.get('x-broker-subprotocol')
    return new Response(null, { status: 101, webSocket: client, ...(protocol ? { headers: { 'sec-websocket-protocol': protocol } } : {}) })
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    if (message === 'ping') ws.send(JSON.stringify({ type: 'pong' }))
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    try {
      ws.close(code === 1005 ? 1000 : code)
    } catch {}
  }

  private broadcast(event: Record<string, unknown>) {
    const msg = JSON.stringify(event)
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(msg)
      } catch {}
    }
  }

  // ---- ending, storage, alarm -------------------------------------------------------------

  private async sealClient(client: ClientCreds): Promise<NonNullable<SessionRecord['client']>> {
    return {
      client_id: client.client_id,
      token_endpoint_auth_method: client.token_endpoint_auth_method,
      ...(client.client_secret ? { client_secret_sealed: await this.seal(client.client_secret, 'client_secret') } : {}),
    }
  }

  /** New tokens sealed; what the provider did not send again (refresh, ID token) is kept. */
  private async sealTokens(t: TokenSet, previous?: SealedTokens): Promise<SealedTokens> {
    const refresh = t.refresh_token ? await this.seal(t.refresh_token, 'refresh_token') : previous?.refresh_token
    const id = t.id_token ? await this.seal(t.id_token, 'id_token') : previous?.id_token
    const sealed: SealedTokens = {
      access_token: await this.seal(t.access_token, 'access_token'),
      ...(refresh ? { refresh_token: refresh } : {}),
      ...(id ? { id_token: id } : {}),
      token_type: t.token_type,
      ...(t.expires_at !== undefined ? { expires_at: t.expires_at } : {}),
    }
    this.hot = { sealed: sealed.access_token, token: t.access_token, sha256: await sha256Hex(t.access_token) }
    return sealed
  }

  private async clientCreds(r: SessionRecord): Promise<ClientCreds> {
    const c = r.client!
    return {
      client_id: c.client_id,
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      ...(c.client_secret_sealed ? { client_secret: await this.open(c.client_secret_sealed, 'client_secret') } : {}),
    }
  }

  /** RFC 7009: the refresh token first (revoking it usually revokes its access tokens too). */
  private async revokeTokens(md: ProviderMetadata, client: ClientCreds, t: { access_token: string; refresh_token?: string }) {
    const rt = this.rt()
    const refresh = t.refresh_token ? await revoke(rt, md, client, t.refresh_token, 'refresh_token') : false
    const access = await revoke(rt, md, client, t.access_token, 'access_token')
    return { refresh_token: refresh, access_token: access }
  }

  /** Ends the session for good: tokens revoked where possible, storage and alarm gone. */
  private async end(reason: string): Promise<LogoutAnswer['revoked']> {
    const r = this.record
    let revoked = { access_token: false, refresh_token: false }
    if (r?.tokens && r.metadata && r.client) {
      const tokens = {
        access_token: await this.accessToken(r.tokens),
        ...(r.tokens.refresh_token ? { refresh_token: await this.open(r.tokens.refresh_token, 'refresh_token') } : {}),
      }
      revoked = await this.revokeTokens(r.metadata, await this.clientCreds(r), tokens)
    }
    this.broadcast({ type: 'logged_out' })
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(1000, 'logged out')
      } catch {}
    }
    await this.log('session_ended', { reason })
    this.record = undefined
    this.hot = undefined
    this.versioned = false
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    return revoked
  }

  /** One alarm, multiplexed over the record's timers: cleanup and proactive refresh. */
  private nextWake(): number | undefined {
    const r = this.record
    if (!r) return undefined
    const times: number[] = []
    if (r.cleanup_at !== undefined) times.push(r.cleanup_at)
    const refreshAt = this.refreshAt(r)
    if (refreshAt !== undefined) times.push(Math.max(refreshAt, Math.ceil(this.backoffUntil / 1000)))
    return times.length ? Math.min(...times) : undefined
  }

  /** When to refresh ahead of expiry, for a session used within the idle window. */
  private refreshAt(r: SessionRecord): number | undefined {
    const { refreshAheadSeconds, refreshIdleSeconds } = this.rt().config
    if (r.state !== 'active' || !r.handle_sha256 || !r.tokens?.refresh_token || r.tokens.expires_at === undefined) return undefined
    // Never before half the token's life: a lifetime shorter than the margin must not loop.
    const issued = r.refreshed_at ?? r.created_at
    const at = Math.max(r.tokens.expires_at - refreshAheadSeconds, issued + Math.ceil((r.tokens.expires_at - issued) / 2))
    const lastUsed = Math.max(this.lastUsed, r.last_used_at ?? 0)
    return lastUsed + refreshIdleSeconds >= at ? at : undefined
  }

  private async scheduleAlarm() {
    const at = this.nextWake()
    if (at === undefined) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(Math.max(at * 1000, Date.now()))
  }

  override async alarm() {
    const r = this.record
    if (!r) return
    const t = now()
    if (r.cleanup_at !== undefined && r.cleanup_at <= t) {
      // Nobody redeemed the code (or the login failed): nobody holds this session.
      if (r.state === 'active' && r.tokens) await this.end('code_not_redeemed')
      else {
        this.record = undefined
        this.versioned = false
        await this.ctx.storage.deleteAll()
      }
      return
    }
    const refreshAt = this.refreshAt(r)
    if (refreshAt !== undefined && refreshAt <= t && !this.inflight) await this.refreshShared().catch(() => {})
    await this.scheduleAlarm()
  }

  private async log(event: string, fields: Record<string, unknown>) {
    console.log(JSON.stringify({ event, session: await logHash(this.id), ...fields }))
  }
}

function unavailable(retryAfter: number) {
  return new BrokerError('provider_unavailable', 'The provider could not refresh the token just now; the session is kept. Retry later.', {
    'Retry-After': String(retryAfter),
  })
}
