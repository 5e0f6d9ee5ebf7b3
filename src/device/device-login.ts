// One Durable Object per pending device login (RFC 8628): it holds the provider's device code
// and is the only one that polls the provider's token endpoint, from its alarm, never sooner
// than the provider's interval after its previous request (+5 s for every slow_down). However
// many times, from however many places, the app polls the broker, the provider sees one
// poller; the app's polls are answered from the object's last known state. Once the provider
// issues tokens (and, for a homeserver, whoami names the device), the next app poll turns
// them into a normal Session object (`adopt`) and this object deletes itself.
import { DurableObject } from 'cloudflare:workers'
import { loadConfig } from '../config/config'
import type { Runtime } from '../config/runtime'
import { keyRing, openAtRest, sealAtRest } from '../crypto/aead'
import { digestsEqual, fromHex, logHash, randomToken, sha256, sha256Hex } from '../crypto/hash'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError, type Outcome, settle } from '../http/errors'
import { deviceFromScope } from '../matrix/scopes'
import { whoami } from '../matrix/whoami'
import { type ClientCreds, revoke, type TokenSet } from '../session/provider-calls'
import type { SealedTokens } from '../session/record'
import type { CreatedSession } from '../session/session'
import { checkIdToken, pollDeviceToken } from './provider-calls'
import { DEVICE_SCHEMA_VERSION, type DeviceRecord, deviceKeys } from './record'

/** RFC 8628 §3.5: every slow_down adds 5 seconds to the interval. */
export const SLOW_DOWN_SECONDS = 5
/** Transient failures (network, 5xx) double the wait, up to this. */
const MAX_BACKOFF_SECONDS = 60
/** The object stops polling when the app has not polled for this long; its next poll resumes. */
export const IDLE_MS = 120_000
/** Approved tokens nobody claims are revoked and deleted after this. */
export const CLAIM_MS = 120_000
/** Denied, expired or failed logins are kept this long after expiry, to tell the app why. */
export const GRACE_MS = 300_000
const LAST_POLL_WRITE_MS = 30_000
/** An app poll this much earlier than its Retry-After still counts as on time. */
const EARLY_TOLERANCE_MS = 500

export interface BeginInput {
  app: string
  issuer: string
  homeserver?: string
  metadata: ProviderMetadata
  client: ClientCreds
  scope: string
  device_id?: string
  device_code: string
  expires_in: number
  interval: number
}

const ZERO = new Uint8Array(32)
const invalidGrant = () => new BrokerError('invalid_grant', 'The device code is unknown, expired, already used or not this app’s.')

export class DeviceLogin extends DurableObject<Env> {
  private record: DeviceRecord | undefined
  /** Memory only: the app's last poll, and before when its next one is "too soon". */
  private lastAppPoll = 0
  private allowAt = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      const kv = ctx.storage.kv
      const version = kv.get<number>(deviceKeys.schema) ?? 0
      if (version > DEVICE_SCHEMA_VERSION) throw new Error(`device login schema ${version} is newer than this code`)
      this.record = kv.get<DeviceRecord>(deviceKeys.record)
    })
  }

  private get id() {
    return this.ctx.id.toString()
  }

  private save(r: DeviceRecord) {
    this.record = r
    // Synchronous writes: the output gate holds every answer until they are durable.
    this.ctx.storage.kv.put(deviceKeys.schema, DEVICE_SCHEMA_VERSION)
    this.ctx.storage.kv.put(deviceKeys.record, r)
  }

  private rt(): Runtime {
    return { env: this.env, config: loadConfig(this.env), waitUntil: (p) => this.ctx.waitUntil(p) }
  }

  private async seal(value: string, what: string) {
    return sealAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, `device|${this.id}|${what}`)
  }

  private async open(value: string, what: string) {
    return openAtRest(await keyRing(this.rt().config.tokenEncryptionKey), value, `device|${this.id}|${what}`)
  }

  // ---- the app's side -------------------------------------------------------------------

  /** POST /v1/device: the provider's answer is kept here; the app gets the broker's code. */
  begin(input: BeginInput): Promise<Outcome<{ device_code: string }>> {
    return settle(async () => {
      if (this.record) throw new BrokerError('invalid_request', 'This device login already exists.')
      const secret = randomToken(32)
      const now = Date.now()
      const expires = now + input.expires_in * 1000
      const r: DeviceRecord = {
        v: DEVICE_SCHEMA_VERSION,
        state: 'pending',
        app: input.app,
        issuer: input.issuer,
        ...(input.homeserver ? { homeserver: input.homeserver } : {}),
        metadata: input.metadata,
        client: {
          client_id: input.client.client_id,
          token_endpoint_auth_method: input.client.token_endpoint_auth_method,
          ...(input.client.client_secret ? { client_secret_sealed: await this.seal(input.client.client_secret, 'client_secret') } : {}),
        },
        scope: input.scope,
        ...(input.device_id ? { device_id: input.device_id } : {}),
        provider_device_code: await this.seal(input.device_code, 'device_code'),
        code_sha256: await sha256Hex(secret),
        created_at: now,
        expires_at: expires,
        interval: input.interval,
        // RFC 8628 §3.4-3.5: the first request too waits one interval.
        next_poll_at: now + input.interval * 1000,
        failures: 0,
        polls: 0,
        last_app_poll_at: now,
        cleanup_at: expires + GRACE_MS,
      }
      this.save(r)
      this.lastAppPoll = now
      await this.schedule()
      await this.log('device_login_started', { expires_in: input.expires_in, interval: input.interval })
      return { device_code: `${this.id}.${secret}` }
    })
  }

  /** POST /v1/device/poll: the last known state; never a provider call. */
  poll(secret: string, appId: string): Promise<Outcome<CreatedSession>> {
    return settle(async () => {
      const known = this.record
      const matches = digestsEqual(await sha256(secret), known ? fromHex(known.code_sha256) : ZERO)
      if (!known || !matches || !this.record || this.record.app !== appId) throw invalidGrant()
      const now = Date.now()
      this.touch(now)
      let r = this.record
      switch (r.state) {
        case 'approved':
          return this.redeem(r)
        case 'redeeming':
          throw invalidGrant()
        case 'denied':
          throw new BrokerError('access_denied', 'The user declined the login at the provider.')
        case 'expired':
          throw expired()
        case 'failed':
          throw new BrokerError(r.error?.code ?? 'authorization_failed', r.error?.description ?? 'The device login failed.')
        case 'pending':
          break
      }
      if (now >= r.expires_at) {
        this.save({ ...r, state: 'expired' })
        await this.schedule()
        throw expired()
      }
      if (r.paused) {
        // The app is back after a pause: polling resumes, still never before next_poll_at.
        const { paused: _paused, ...resumed } = r
        this.save(resumed)
        r = resumed
        await this.schedule()
      }
      if (now < this.allowAt) {
        const wait = Math.max(1, Math.ceil((this.allowAt - now) / 1000))
        throw new BrokerError('slow_down', 'Polling too often: wait Retry-After seconds before the next poll.', {
          'Retry-After': String(wait),
        })
      }
      // Come back just after the object's next provider request.
      const retryAfter = Math.max(1, Math.ceil((Math.max(r.next_poll_at, now) - now) / 1000) + 1)
      this.allowAt = now + retryAfter * 1000 - EARLY_TOLERANCE_MS
      throw new BrokerError('authorization_pending', 'The user has not approved the login yet: poll again after Retry-After seconds.', {
        'Retry-After': String(retryAfter),
      })
    })
  }

  private touch(now: number) {
    this.lastAppPoll = now
    const r = this.record
    if (r && now - r.last_app_poll_at > LAST_POLL_WRITE_MS) this.save({ ...r, last_app_poll_at: now })
  }

  /** Approved tokens → a normal session, exactly once. */
  private async redeem(r: DeviceRecord): Promise<CreatedSession> {
    // Claimed before the first await: a concurrent poll sees `redeeming` and is refused.
    this.save({ ...r, state: 'redeeming' })
    try {
      const t = r.tokens!
      const tokens = {
        access_token: await this.open(t.access_token, 'access_token'),
        ...(t.refresh_token ? { refresh_token: await this.open(t.refresh_token, 'refresh_token') } : {}),
        ...(t.id_token ? { id_token: await this.open(t.id_token, 'id_token') } : {}),
        ...(t.expires_at !== undefined ? { expires_at: t.expires_at } : {}),
      }
      const session = this.env.SESSION.get(this.env.SESSION.newUniqueId())
      const out = await session.adopt({
        app: r.app,
        issuer: r.issuer,
        ...(r.homeserver ? { homeserver: r.homeserver } : {}),
        metadata: r.metadata,
        client: await this.clientCreds(r),
        tokens,
        user: r.user ?? {},
        scope: r.granted_scope ?? r.scope,
      })
      if (!out.ok) throw new BrokerError(out.error.code, out.error.description, out.error.headers)
      await this.log('device_login_redeemed', { session: await logHash(out.value.session_id) })
      this.record = undefined
      await this.ctx.storage.deleteAlarm()
      await this.ctx.storage.deleteAll()
      return out.value
    } catch (e) {
      // Not handed out: the next poll may try again.
      if (this.record?.state === 'redeeming') this.save({ ...this.record, state: 'approved' })
      throw e
    }
  }

  // ---- the one poller --------------------------------------------------------------------

  override async alarm() {
    const r = this.record
    if (!r) return
    const now = Date.now()
    if (r.cleanup_at <= now) return this.cleanup()
    if (r.state === 'pending') {
      if (now >= r.expires_at) this.save({ ...r, state: 'expired' })
      else if (r.paused) {
        // Paused until the app polls again (the alarm is only here for the expiry).
      } else if (now - Math.max(this.lastAppPoll, r.last_app_poll_at) > IDLE_MS) {
        this.save({ ...r, paused: true })
        await this.log('device_login_paused', {})
      } else if (now >= r.next_poll_at) await this.pollProvider(r, now)
      // else: woken early (a retried or forced alarm): nothing is sent before next_poll_at.
    }
    await this.schedule()
  }

  private async pollProvider(r: DeviceRecord, sentAt: number) {
    // The next request's earliest time is written before this one is sent.
    this.save({ ...r, next_poll_at: sentAt + r.interval * 1000, polls: r.polls + 1 })
    const rt = this.rt()
    const creds = await this.clientCreds(r)
    const answer = await pollDeviceToken(rt, r.metadata, creds, await this.open(r.provider_device_code, 'device_code'))
    const cur = this.record
    if (!cur || cur.state !== 'pending') return
    switch (answer.kind) {
      case 'authorization_pending':
        if (cur.failures) this.save({ ...cur, failures: 0 })
        return
      case 'slow_down': {
        const interval = cur.interval + SLOW_DOWN_SECONDS
        this.save({ ...cur, interval, next_poll_at: sentAt + interval * 1000, failures: 0 })
        await this.log('device_login_slow_down', { interval })
        return
      }
      case 'expired_token':
        this.save({ ...cur, state: 'expired' })
        return
      case 'access_denied':
        this.save({ ...cur, state: 'denied' })
        await this.log('device_login_denied', {})
        return
      case 'failed':
        return this.fail(cur, answer.error)
      case 'unavailable': {
        // RFC 8628 §3.5: back off on connection problems (never below the interval).
        const failures = cur.failures + 1
        const wait = Math.min(MAX_BACKOFF_SECONDS, cur.interval * 2 ** failures)
        this.save({ ...cur, failures, next_poll_at: sentAt + Math.max(cur.interval, wait) * 1000 })
        await this.log('device_login_poll_failed', { retry_in: wait })
        return
      }
      case 'tokens':
        return this.approved(cur, creds, answer.tokens)
    }
  }

  private async approved(r: DeviceRecord, creds: ClientCreds, tokens: TokenSet) {
    const rt = this.rt()
    const scope = tokens.scope ?? r.scope
    const user: NonNullable<DeviceRecord['user']> = tokens.claims?.sub ? { sub: tokens.claims.sub } : {}
    try {
      await checkIdToken(rt, r.metadata, tokens, creds.client_id)
      if (r.homeserver) {
        const me = await whoami(rt, r.homeserver, tokens.access_token)
        const granted = deviceFromScope(scope) ?? r.device_id
        if (!me.device_id) throw new BrokerError('missing_device_id', 'The homeserver did not say which device this login created.')
        if (granted && me.device_id !== granted)
          throw new BrokerError('missing_device_id', 'The homeserver reported another device than the one this login asked for.')
        user.user_id = me.user_id
        user.device_id = me.device_id
      }
    } catch (e) {
      await this.revokeTokens(r.metadata, creds, tokens)
      return this.fail(
        this.record ?? r,
        e instanceof BrokerError ? e : new BrokerError('authorization_failed', 'The tokens the provider issued could not be checked.'),
      )
    }
    const latest = this.record ?? r
    this.save({
      ...latest,
      state: 'approved',
      tokens: await this.sealTokens(tokens),
      user,
      granted_scope: scope,
      cleanup_at: Math.min(latest.cleanup_at, Date.now() + CLAIM_MS),
    })
    await this.log('device_login_approved', { access_token: await logHash(tokens.access_token) })
  }

  private async fail(r: DeviceRecord, e: BrokerError) {
    this.save({ ...r, state: 'failed', error: { code: e.code, description: e.description } })
    await this.log('device_login_failed', { error: e.code })
    // The provider no longer knows the client: new logins must register again.
    if (e.providerCode === 'invalid_client' && loadConfig(this.env).staticRegistrations[r.issuer]?.client_id !== r.client.client_id) {
      await this.env.REGISTRAR.getByName(r.issuer)
        .forget(r.client.client_id)
        .catch(() => {})
    }
  }

  /** One alarm: the next poll while pending (and not paused), else the cleanup. */
  private async schedule() {
    const r = this.record
    if (!r) return this.ctx.storage.deleteAlarm()
    let at = r.cleanup_at
    if (r.state === 'pending') at = r.paused ? Math.min(at, r.expires_at) : Math.min(at, Math.min(r.next_poll_at, r.expires_at))
    await this.ctx.storage.setAlarm(Math.max(at, Date.now()))
  }

  /** Unclaimed tokens are revoked; then the object forgets everything. */
  private async cleanup() {
    const r = this.record
    if (r?.tokens && (r.state === 'approved' || r.state === 'redeeming')) {
      const tokens = {
        access_token: await this.open(r.tokens.access_token, 'access_token'),
        ...(r.tokens.refresh_token ? { refresh_token: await this.open(r.tokens.refresh_token, 'refresh_token') } : {}),
      }
      await this.revokeTokens(r.metadata, await this.clientCreds(r), tokens)
      await this.log('device_login_unclaimed', {})
    }
    this.record = undefined
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
  }

  // ---- storage helpers --------------------------------------------------------------------

  private async clientCreds(r: DeviceRecord): Promise<ClientCreds> {
    return {
      client_id: r.client.client_id,
      token_endpoint_auth_method: r.client.token_endpoint_auth_method,
      ...(r.client.client_secret_sealed ? { client_secret: await this.open(r.client.client_secret_sealed, 'client_secret') } : {}),
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

  private async revokeTokens(md: ProviderMetadata, creds: ClientCreds, t: { access_token: string; refresh_token?: string }) {
    const rt = this.rt()
    if (t.refresh_token) await revoke(rt, md, creds, t.refresh_token, 'refresh_token')
    await revoke(rt, md, creds, t.access_token, 'access_token')
  }

  private async log(event: string, fields: Record<string, unknown>) {
    console.log(JSON.stringify({ event, device_login: await logHash(this.id), ...fields }))
  }
}

const expired = () => new BrokerError('expired_token', 'The device code expired before the user approved the login: start again.')
