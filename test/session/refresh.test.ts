import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { BROKER, bearer, call, expectError, introspect, lab, postJson, sha256hex } from '../helpers'
import { newSession } from '../browser'

type Answer = { access_token: string; token_type: string; expires_at: number | null; scope: string; refreshed: boolean }

const token = (handle: string, body?: unknown) =>
  call('/v1/session/token', {
    method: 'POST',
    headers: { ...bearer(handle), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
const refresh = (handle: string) => call('/v1/session/refresh', { method: 'POST', headers: bearer(handle) })
const refreshGrants = async (id: number) => (await lab.counts(id))['POST /token'] ?? 0
const stub = (handle: string) => env.SESSION.get(env.SESSION.idFromString(handle.split('.')[0]!))

/** The refresh token the object holds, in clear (test-only peek through its own open()). */
async function storedRefreshToken(handle: string): Promise<string> {
  return runInDurableObject(stub(handle), async (o) => {
    const obj = o as unknown as { record: { tokens: { refresh_token: string } }; open(v: string, w: string): Promise<string> }
    return obj.open(obj.record.tokens.refresh_token, 'refresh_token')
  })
}

async function burst(n: number, send: () => Promise<Response>): Promise<Answer[]> {
  const all = await Promise.all(Array.from({ length: n }, () => send()))
  const statuses = new Set(all.map((r) => r.status))
  expect([...statuses]).toEqual([200])
  return Promise.all(all.map((r) => r.json<Answer>()))
}

describe('POST /v1/session/token and /refresh', () => {
  it('returns the current token without refreshing, no-store', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    const res = await token(s.session)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({
      access_token: s.access_token,
      token_type: 'Bearer',
      expires_at: s.expires_at,
      scope: s.scope,
      refreshed: false,
    })
  })

  it('1,000 concurrent refreshes → one refresh grant at the provider, one new token for all', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const before = await refreshGrants(p.id)
    const answers = await burst(1000, () => refresh(s.session))
    expect((await refreshGrants(p.id)) - before).toBe(1)
    const tokens = new Set(answers.map((a) => a.access_token))
    expect(tokens.size).toBe(1)
    const [fresh] = tokens
    expect(fresh).not.toBe(s.access_token)
    expect(answers.every((a) => a.refreshed)).toBe(true)
    expect(await introspect(p.id, fresh!)).toMatchObject({ active: true })
    const me = await fetch(`${p.issuer}/me`, { headers: { authorization: `Bearer ${fresh}` } })
    expect(me.status).toBe(200)
  })

  it('1,000 concurrent token calls with a large min_ttl → one refresh', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const before = await refreshGrants(p.id)
    const answers = await burst(1000, () => token(s.session, { min_ttl: 86_400 }))
    expect((await refreshGrants(p.id)) - before).toBe(1)
    expect(new Set(answers.map((a) => a.access_token)).size).toBe(1)
  })

  it('rounds of 1,000 callers reporting the current token as rejected → one refresh per round, no reuse', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    let current = s.access_token
    const seen = new Set([current])
    for (let round = 0; round < 3; round++) {
      const before = await refreshGrants(p.id)
      const stale = await sha256hex(current)
      const answers = await burst(1000, () => token(s.session, { stale_token_sha256: stale }))
      expect((await refreshGrants(p.id)) - before).toBe(1)
      const tokens = new Set(answers.map((a) => a.access_token))
      expect(tokens.size).toBe(1)
      current = [...tokens][0]!
      expect(seen.has(current)).toBe(false)
      seen.add(current)
    }
    // A reused (rotated-away) refresh token would have been refused, and would have revoked the grant.
    expect((await lab.counts(p.id))['POST /token → 400'] ?? 0).toBe(0)
    expect(await introspect(p.id, current)).toMatchObject({ active: true })
  })

  it('a stale_token_sha256 of an older token does not refresh again', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const first = await (await refresh(s.session)).json<Answer>()
    const before = await refreshGrants(p.id)
    const again = await (await token(s.session, { stale_token_sha256: await sha256hex(s.access_token) })).json<Answer>()
    expect(again).toMatchObject({ access_token: first.access_token, refreshed: false })
    expect(await refreshGrants(p.id)).toBe(before)
  })

  it('rotation: the new refresh token is kept, the old one is spent', async () => {
    const p = await lab.spawn({ rotateRefreshTokens: true })
    const s = await newSession({ issuer: p.issuer })
    const rt0 = await storedRefreshToken(s.session)
    await refresh(s.session)
    const rt1 = await storedRefreshToken(s.session)
    expect(rt1).not.toBe(rt0)
    expect(await introspect(p.id, rt0)).toMatchObject({ active: false })
    expect(await introspect(p.id, rt1)).toMatchObject({ active: true })
  })

  it('no rotation: the old refresh token is kept and keeps working', async () => {
    const p = await lab.spawn({ rotateRefreshTokens: false })
    const s = await newSession({ issuer: p.issuer })
    const rt0 = await storedRefreshToken(s.session)
    const a = await (await refresh(s.session)).json<Answer>()
    expect(await storedRefreshToken(s.session)).toBe(rt0)
    const b = await (await token(s.session, { stale_token_sha256: await sha256hex(a.access_token) })).json<Answer>()
    expect(b.refreshed).toBe(true)
    expect(b.access_token).not.toBe(a.access_token)
    expect(await introspect(p.id, rt0)).toMatchObject({ active: true })
  })

  it('provider 5xx during refresh → 503 provider_unavailable with Retry-After, tokens kept, backoff, recovery', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const rt0 = await storedRefreshToken(s.session)
    await lab.fault(p.id, { route: 'POST /token', status: 503 })
    const res = await refresh(s.session)
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    await expectError(res, 503, 'provider_unavailable')
    // Backoff: the next call does not hit the provider.
    const hits = await refreshGrants(p.id)
    await expectError(await refresh(s.session), 503, 'provider_unavailable')
    expect(await refreshGrants(p.id)).toBe(hits)
    // Nothing lost: the current token is still served, the refresh token unchanged.
    expect(await (await token(s.session)).json()).toMatchObject({ access_token: s.access_token, refreshed: false })
    expect(await storedRefreshToken(s.session)).toBe(rt0)
    await lab.clearFaults(p.id)
    await new Promise((r) => setTimeout(r, 1100))
    const ok = await refresh(s.session)
    expect(ok.status).toBe(200)
    expect((await ok.json<Answer>()).access_token).not.toBe(s.access_token)
  })

  it('a hung provider → 503 within the timeout; the object is not wedged', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 500, delayMs: 5000, times: 1 })
    const started = Date.now()
    await expectError(await refresh(s.session), 503, 'provider_unavailable')
    expect(Date.now() - started).toBeLessThan(4000)
    expect((await call('/v1/session', { headers: bearer(s.session) })).status).toBe(200)
  })

  it('invalid_grant → reauth_required from then on, tokens dropped', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 400, body: JSON.stringify({ error: 'invalid_grant' }), times: 1 })
    const res = await refresh(s.session)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /)
    await expectError(res, 401, 'reauth_required')
    await expectError(await token(s.session), 401, 'reauth_required')
    const info = await (await call('/v1/session', { headers: bearer(s.session) })).json<{ state: string }>()
    expect(info.state).toBe('reauth_required')
    const raw = await runInDurableObject(stub(s.session), async (_o, state) => state.storage.kv.get<Record<string, unknown>>('session'))
    expect(raw?.tokens).toBeUndefined()
  })

  it('invalid_client at refresh → reauth_required, and the dead registration is forgotten', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const regKeys = async () => (await env.CACHE.list({ prefix: 'registration:' })).keys.length
    const registrar = env.REGISTRAR.getByName(p.issuer)
    const stored = () => runInDurableObject(registrar, async (_o, st) => (await st.storage.list({ prefix: 'registration:' })).size)
    expect(await stored()).toBe(1)
    const before = await regKeys()
    await lab.fault(p.id, { route: 'POST /token', status: 401, body: JSON.stringify({ error: 'invalid_client' }), times: 1 })
    await expectError(await refresh(s.session), 401, 'reauth_required')
    expect(await stored()).toBe(0)
    expect(await regKeys()).toBe(before - 1)
  })

  it('the alarm refreshes ahead of expiry for a recently used session', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    // Time passes: the token now expires within the margin (120 s).
    await runInDurableObject(stub(s.session), async (o, state) => {
      const obj = o as unknown as { record: { created_at: number; tokens: { expires_at: number } }; scheduleAlarm(): Promise<void> }
      obj.record.created_at -= 3600
      obj.record.tokens.expires_at = Math.floor(Date.now() / 1000) + 30
      state.storage.kv.put('session', obj.record)
      await obj.scheduleAlarm()
    })
    // The alarm is due now: the runtime may already have run it; otherwise run it.
    await runDurableObjectAlarm(stub(s.session))
    let info = { refresh_count: 0 }
    for (let i = 0; i < 100 && info.refresh_count === 0; i++) {
      info = await (await call('/v1/session', { headers: bearer(s.session) })).json<{ refresh_count: number }>()
      if (!info.refresh_count) await new Promise((r) => setTimeout(r, 20))
    }
    expect(info.refresh_count).toBe(1)
    // The next proactive refresh is scheduled for the new token, not at once (no loop).
    const next = await runInDurableObject(stub(s.session), (_o, state) => state.storage.getAlarm())
    expect(next).toBeGreaterThan(Date.now() + 60_000)
  })

  it('an idle session is not refreshed by the alarm', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    await runInDurableObject(stub(s.session), async (o, state) => {
      const obj = o as unknown as { record: { created_at: number; last_used_at: number; tokens: { expires_at: number } }; lastUsed: number }
      obj.lastUsed = 0
      obj.record.created_at -= 3600
      obj.record.tokens.expires_at = Math.floor(Date.now() / 1000) + 30
      obj.record.last_used_at = Math.floor(Date.now() / 1000) - 10 * 86_400
      state.storage.kv.put('session', obj.record)
      await state.storage.setAlarm(Date.now())
    })
    const before = await refreshGrants(p.id)
    await runDurableObjectAlarm(stub(s.session))
    expect(await refreshGrants(p.id)).toBe(before)
    expect(await runInDurableObject(stub(s.session), (_o, state) => state.storage.getAlarm())).toBeNull()
  })

  it('keeps no token in clear at rest', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const rt0 = await storedRefreshToken(s.session)
    const raw = await runInDurableObject(stub(s.session), async (_o, state) => JSON.stringify([...state.storage.kv.list()]))
    expect(raw).not.toContain(s.access_token)
    expect(raw).not.toContain(rt0)
    expect(raw).toMatch(/"access_token":"e\.k2\./)
    expect(raw).toMatch(/"refresh_token":"e\.k2\./)
    expect(raw).toMatch(/"client_secret_sealed":"e\.k2\./)
  })

  it('bad bodies', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(await token(s.session, { min_ttl: -1 }), 400, 'invalid_request')
    await expectError(await token(s.session, { stale_token_sha256: 'zz' }), 400, 'invalid_request')
    await expectError(await token(s.session, { min_ttl: 1, extra: true }), 400, 'invalid_request')
    await expectError(
      await call('/v1/session/token', { method: 'POST', headers: { ...bearer(s.session), 'content-type': 'text/plain' }, body: 'x' }),
      415,
      'unsupported_media_type',
    )
    await expectError(await postJson('/v1/session/refresh', { x: 1 }, bearer(s.session)), 400, 'invalid_request')
  })
})

describe('GET /v1/session', () => {
  it('metadata only, no token', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const res = await call('/v1/session', { headers: bearer(s.session) })
    expect(res.headers.get('cache-control')).toBe('no-store')
    const info = await res.json<Record<string, unknown>>()
    expect(info).toEqual({
      session_id: s.session_id,
      issuer: p.issuer,
      user: { sub: 'alice' },
      scope: s.scope,
      expires_at: s.expires_at,
      created_at: expect.any(Number),
      refreshed_at: null,
      refresh_count: 0,
      state: 'active',
    })
    expect(JSON.stringify(info)).not.toContain(s.access_token)
  })
})

describe('invalid handles → 401 invalid_session', () => {
  it.each([
    ['no Authorization', {}],
    ['Basic', { authorization: 'Basic abc' }],
    ['garbage', { authorization: 'Bearer garbage' }],
    ['a random id', { authorization: `Bearer ${'a'.repeat(64)}.${'b'.repeat(43)}` }],
    ['huge', { authorization: `Bearer ${'a'.repeat(5000)}` }],
  ])('%s', async (_n, headers) => {
    const res = await call('/v1/session', { headers })
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /)
    await expectError(res, 401, 'invalid_session')
  })

  it('a real session id with a wrong secret', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    const forged = `${s.session_id}.${'A'.repeat(43)}`
    for (const path of ['/v1/session']) await expectError(await call(path, { headers: bearer(forged) }), 401, 'invalid_session')
    await expectError(await token(forged), 401, 'invalid_session')
    await expectError(await refresh(forged), 401, 'invalid_session')
  })

  it('the broker code is not a handle', async () => {
    const p = await lab.spawn()
    const { browserLogin } = await import('../browser')
    const back = await browserLogin({ issuer: p.issuer })
    await expectError(await call('/v1/session', { headers: bearer(back.searchParams.get('code')!) }), 401, 'invalid_session')
  })
})

export { BROKER, exports }
