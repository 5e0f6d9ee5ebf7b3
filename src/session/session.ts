// One Durable Object per user session: the single writer of its tokens. Created by the login
// callback (named by the login's txn, so a state completes at most once), it exchanges the
// code, validates the ID token, asks a homeserver `whoami`, and stores everything before the
// browser is redirected. The broker code it returns is single-use, app-bound, 60 s.
import { DurableObject } from 'cloudflare:workers'
import { loadConfig } from '../config/config'
import type { Runtime } from '../config/runtime'
import { keyRing, openAtRest, sealAtRest } from '../crypto/aead'
import { digestsEqual, fromHex, logHash, randomToken, sha256, sha256Hex } from '../crypto/hash'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError, type Outcome, settle } from '../http/errors'
import { deviceFromScope } from '../matrix/scopes'
import { whoami } from '../matrix/whoami'
import type { PendingLogin } from '../login/state'
import { STATE_TTL_SECONDS } from '../login/state'
import { type ClientCreds, exchangeCode, revoke, type TokenSet } from './provider-calls'
import { SCHEMA_VERSION, type SealedTokens, type SessionRecord, sessionKeys } from './record'

export const CODE_TTL_SECONDS = 60

export interface CompleteInput {
  login: PendingLogin
  state: string
  query: string
  metadata: ProviderMetadata
  client: ClientCreds
  homeserver?: string
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

const now = () => Math.floor(Date.now() / 1000)

export class Session extends DurableObject<Env> {
  private record: SessionRecord | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => this.migrate())
  }

  /** Schema versioning: runs before any call is delivered. */
  private migrate() {
    const kv = this.ctx.storage.kv
    const version = kv.get<number>(sessionKeys.schema) ?? 0
    if (version > SCHEMA_VERSION) throw new Error(`session schema ${version} is newer than this code`)
    if (version < SCHEMA_VERSION) kv.put(sessionKeys.schema, SCHEMA_VERSION)
    this.record = kv.get<SessionRecord>(sessionKeys.record)
  }

  private save(r: SessionRecord) {
    this.record = r
    // Synchronous write: the output gate holds every answer until it is durable.
    this.ctx.storage.kv.put(sessionKeys.record, r)
  }

  private get id() {
    return this.ctx.id.toString()
  }

  private rt(): Runtime {
    return { env: this.env, config: loadConfig(this.env), waitUntil: (p) => this.ctx.waitUntil(p) }
  }

  private aad(what: string) {
    return `session|${this.id}|${what}`
  }

  private async seal(value: string, what: string) {
    return sealAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, this.aad(what))
  }

  private async open(value: string, what: string) {
    return openAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, this.aad(what))
  }

  /** The login callback. Refuses a second completion of the same login (replay). */
  complete(input: CompleteInput): Promise<Outcome<{ code: string }>> {
    return settle(async () => {
      if (this.record) throw new BrokerError('invalid_state', 'This login was already completed. Start the login again.')
      const created = now()
      // Claimed before the first await: a concurrent replay sees it and is refused.
      this.save({ v: SCHEMA_VERSION, state: 'pending', app: input.login.app, issuer: input.login.issuer, created_at: created, refresh_count: 0, cleanup_at: created + STATE_TTL_SECONDS })
      await this.scheduleAlarm()
      try {
        return { code: await this.finishLogin(input, created) }
      } catch (e) {
        this.save({ ...this.record!, state: 'failed' })
        throw e
      }
    })
  }

  private async finishLogin(input: CompleteInput, created: number): Promise<string> {
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
      const me = await whoami(rt, input.homeserver, tokens.access_token).catch(async (e: unknown) => {
        await this.revokeAll(metadata, client, tokens)
        throw e
      })
      if (!me.device_id) {
        await this.revokeAll(metadata, client, tokens)
        throw new BrokerError('missing_device_id', 'The homeserver did not say which device this login created.')
      }
      const granted = deviceFromScope(scope) ?? login.device_id
      if (granted && me.device_id !== granted) {
        await this.revokeAll(metadata, client, tokens)
        throw new BrokerError('missing_device_id', 'The homeserver reported another device than the one this login asked for.')
      }
      user.user_id = me.user_id
      user.device_id = me.device_id
    }
    const codeSecret = randomToken(32)
    const sealedClient: SessionRecord['client'] = {
      client_id: client.client_id,
      token_endpoint_auth_method: client.token_endpoint_auth_method,
      ...(client.client_secret ? { client_secret_sealed: await this.seal(client.client_secret, 'client_secret') } : {}),
    }
    this.save({
      v: SCHEMA_VERSION,
      state: 'active',
      app: login.app,
      issuer: login.issuer,
      ...(input.homeserver ? { homeserver: input.homeserver } : {}),
      metadata,
      client: sealedClient,
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
    console.log(JSON.stringify({ event: 'session_created', session: await logHash(this.id), access_token: await logHash(tokens.access_token) }))
    return `${this.id}.${codeSecret}`
  }

  /** POST /v1/sessions: the broker code → the session handle (returned once). */
  redeem(codeSecret: string, appId: string): Promise<Outcome<CreatedSession>> {
    return settle(async () => {
      const r = this.record
      const invalid = () => new BrokerError('invalid_grant', 'The code is unknown, expired, already used or not this app’s.')
      if (!r?.code || (r.state !== 'active' && r.state !== 'ended')) throw invalid()
      if (!digestsEqual(await sha256(codeSecret), fromHex(r.code.sha256))) throw invalid()
      if (r.code.app !== appId) throw invalid()
      if (r.code.used) {
        // RFC 6749 §4.1.2: a replayed code revokes what it granted.
        await this.end('code_replayed')
        throw invalid()
      }
      if (r.code.expires_at < now()) throw invalid()
      const handleSecret = randomToken(32)
      const next: SessionRecord = { ...r, code: { ...r.code, used: true }, handle_sha256: await sha256Hex(handleSecret) }
      delete next.cleanup_at
      this.save(next)
      await this.scheduleAlarm()
      return { session: `${this.id}.${handleSecret}`, ...(await this.view(next)) }
    })
  }

  private async view(r: SessionRecord): Promise<SessionView> {
    const t = r.tokens!
    return {
      session_id: this.id,
      issuer: r.issuer,
      user: r.user ?? {},
      scope: r.scope ?? '',
      access_token: await this.open(t.access_token, 'access_token'),
      token_type: t.token_type,
      expires_at: t.expires_at ?? null,
    }
  }

  private async sealTokens(t: TokenSet): Promise<SealedTokens> {
    return {
      access_token: await this.seal(t.access_token, 'access_token'),
      ...(t.refresh_token ? { refresh_token: await this.seal(t.refresh_token, 'refresh_token') } : {}),
      ...(t.id_token ? { id_token: await this.seal(t.id_token, 'id_token') } : {}),
      token_type: t.token_type,
      ...(t.expires_at !== undefined ? { expires_at: t.expires_at } : {}),
    }
  }

  private async revokeAll(md: ProviderMetadata, client: ClientCreds, t: { access_token: string; refresh_token?: string }) {
    const rt = this.rt()
    const refresh = t.refresh_token ? await revoke(rt, md, client, t.refresh_token, 'refresh_token') : false
    const access = await revoke(rt, md, client, t.access_token, 'access_token')
    return { refresh_token: refresh, access_token: access }
  }

  private async clientCreds(r: SessionRecord): Promise<ClientCreds> {
    const c = r.client!
    return {
      client_id: c.client_id,
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      ...(c.client_secret_sealed ? { client_secret: await this.open(c.client_secret_sealed, 'client_secret') } : {}),
    }
  }

  /** Ends the session for good: tokens revoked where possible, storage reduced to a tombstone. */
  private async end(reason: string) {
    const r = this.record
    if (r?.tokens && r.metadata && r.client) {
      const tokens = {
        access_token: await this.open(r.tokens.access_token, 'access_token'),
        ...(r.tokens.refresh_token ? { refresh_token: await this.open(r.tokens.refresh_token, 'refresh_token') } : {}),
      }
      await this.revokeAll(r.metadata, await this.clientCreds(r), tokens)
    }
    this.ctx.storage.kv.delete(sessionKeys.record)
    // A tombstone until the login state that made it can no longer be replayed.
    this.save({ v: SCHEMA_VERSION, state: 'ended', app: r?.app ?? '', issuer: r?.issuer ?? '', created_at: r?.created_at ?? now(), refresh_count: 0, cleanup_at: (r?.created_at ?? now()) + STATE_TTL_SECONDS })
    await this.scheduleAlarm()
    console.log(JSON.stringify({ event: 'session_ended', session: await logHash(this.id), reason }))
  }

  /** One alarm, multiplexed over the record's timers. */
  private async scheduleAlarm() {
    const at = this.record?.cleanup_at
    if (at === undefined) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(Math.max(at * 1000, Date.now()))
  }

  override async alarm() {
    const r = this.record
    if (!r?.cleanup_at || r.cleanup_at > now()) return this.scheduleAlarm()
    if (r.state === 'active' && r.tokens) {
      // Nobody redeemed the code: nobody holds this session.
      await this.end('code_not_redeemed')
      if ((this.record?.cleanup_at ?? 0) > now()) return
    }
    await this.ctx.storage.deleteAll()
    this.record = undefined
  }
}

