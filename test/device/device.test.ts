import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import { OTHER_APP } from '../constants'
import { bearer, call, expectError, homeserver, introspect, lab } from '../helpers'
import {
  alarmNow,
  CODE_FORM,
  patch,
  peek,
  pollDevice,
  pollNow,
  pollUntilDone,
  sleep,
  started,
  startDevice,
  stubOf,
  times,
  userAtProvider,
} from './helpers'

const tokenRequests = async (id: number) => (await lab.counts(id))['POST /token'] ?? 0

describe('POST /v1/device → approve at the provider → POST /v1/device/poll', () => {
  it('end to end: a session like POST /v1/sessions whose access token works at the provider', async () => {
    const p = await lab.spawn()
    const res = await startDevice({ issuer: p.issuer })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const start = await res.json<Record<string, unknown>>()
    expect(Object.keys(start).sort()).toEqual([
      'device_code',
      'expires_in',
      'interval',
      'user_code',
      'verification_uri',
      'verification_uri_complete',
    ])
    expect(start.device_code).toMatch(CODE_FORM)
    expect(start.verification_uri).toBe(`${p.issuer}/device`)
    expect(start.verification_uri_complete).toBe(`${p.issuer}/device?user_code=${start.user_code}`)
    expect(start.expires_in).toBe(600)
    expect(start.interval).toBe(5) // RFC 8628 default: oidc-provider sends none
    // The provider's device code never left the object: the broker's is not one the provider knows.
    const [, secret] = (start.device_code as string).split('.')
    expect((await introspect(p.id, secret!)).kind).toBeNull()
    expect((await lab.counts(p.id))['POST /device/auth']).toBe(1)

    const page = await userAtProvider(start.verification_uri_complete as string)
    expect(page).toContain('Sign-in Success')
    const done = await pollUntilDone(start.device_code as string)
    expect(done.status).toBe(201)
    expect(done.headers.get('cache-control')).toBe('no-store')
    const s = await done.json<Record<string, unknown>>()
    expect(Object.keys(s).sort()).toEqual(['access_token', 'expires_at', 'issuer', 'scope', 'session', 'session_id', 'token_type', 'user'])
    expect(s).toMatchObject({ issuer: p.issuer, user: { sub: 'alice' }, token_type: 'Bearer' })
    expect(s.scope).toContain('openid')
    const me = await fetch(`${p.issuer}/me`, { headers: { authorization: `Bearer ${s.access_token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ sub: 'alice' })
    // A normal session: info, and a refresh with the refresh token the device grant gave.
    const info = await call('/v1/session', { headers: bearer(s.session as string) })
    expect(await info.json()).toMatchObject({ session_id: s.session_id, state: 'active', user: { sub: 'alice' } })
    const fresh = await call('/v1/session/refresh', { method: 'POST', headers: bearer(s.session as string) })
    expect(fresh.status).toBe(200)
    // The code is spent, and the object is gone.
    await expectError(await pollDevice(start.device_code as string), 400, 'invalid_grant')
    expect(await peek(start.device_code as string)).toBeUndefined()
    // No refused grant at the provider: it only ever saw pending, then the tokens.
    const counts = await lab.counts(p.id)
    expect(counts['POST /token → 200']).toBe(2) // the device grant and the refresh
    expect((counts['POST /token'] ?? 0) - 2).toBe(counts['POST /token → 400'] ?? 0)
  }, 40_000)

  it('before approval: authorization_pending with Retry-After; polling sooner → slow_down', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    const first = await pollDevice(start.device_code)
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(5)
    await expectError(first, 400, 'authorization_pending', /not approved/)
    const second = await pollDevice(start.device_code)
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    await expectError(second, 400, 'slow_down')
    // The app's polls never reach the provider.
    expect(await tokenRequests(p.id)).toBe(0)
  })

  it('many app polls, for two intervals → one provider poller, never faster than the interval', async () => {
    const p = await lab.spawn()
    const began = Date.now()
    const start = await started({ issuer: p.issuer })
    const answers = new Map<string, number>()
    let appPolls = 0
    const hammer = async (untilMs: number) => {
      while (Date.now() < untilMs) {
        const batch = await Promise.all(Array.from({ length: 20 }, () => pollDevice(start.device_code)))
        for (const r of batch) {
          appPolls++
          const key = r.status === 201 ? 'created' : (await r.json<{ error: string }>()).error
          answers.set(key, (answers.get(key) ?? 0) + 1)
        }
        await sleep(200)
      }
    }
    await hammer(began + 11_000)
    expect([...answers.keys()].sort()).toEqual(['authorization_pending', 'slow_down'])
    await userAtProvider(start.verification_uri_complete!)
    await hammer(Date.now() + 6_500)
    expect(answers.get('created')).toBe(1)
    expect(answers.get('invalid_grant')).toBeGreaterThan(0) // every poll after the one that got the session
    const polls = (await times(p.id))['POST /token'] ?? []
    const elapsed = Date.now() - began
    expect(appPolls).toBeGreaterThan(200)
    expect(polls.length).toBeGreaterThanOrEqual(2)
    expect(polls.length).toBeLessThanOrEqual(Math.ceil(elapsed / 5000))
    for (let i = 1; i < polls.length; i++) expect(polls[i]! - polls[i - 1]!).toBeGreaterThanOrEqual(5000 - 50)
    expect(polls[0]! - began).toBeGreaterThanOrEqual(5000 - 50)
  }, 60_000)

  it('slow_down from the provider adds 5 s to the interval; an early alarm sends nothing', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 400, body: JSON.stringify({ error: 'slow_down' }), times: 1 })
    const before = Date.now()
    await pollNow(start.device_code)
    const r = (await peek(start.device_code))!
    expect(r).toMatchObject({ state: 'pending', interval: 10, polls: 1 })
    expect(r.next_poll_at).toBeGreaterThanOrEqual(before + 10_000)
    const first = await pollDevice(start.device_code)
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(10)
    await expectError(first, 400, 'authorization_pending')
    // The runtime retrying or waking the alarm early does not poll before next_poll_at.
    await alarmNow(start.device_code)
    expect(await tokenRequests(p.id)).toBe(1)
    expect((await peek(start.device_code))!.polls).toBe(1)
    // Another slow_down: +5 again.
    await lab.fault(p.id, { route: 'POST /token', status: 400, body: JSON.stringify({ error: 'slow_down' }), times: 1 })
    await pollNow(start.device_code)
    expect((await peek(start.device_code))!.interval).toBe(15)
  })

  it('the user aborts at the provider → access_denied', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await userAtProvider(start.verification_uri_complete!, 'abort')
    await pollNow(start.device_code)
    expect((await peek(start.device_code))!.state).toBe('denied')
    await expectError(await pollDevice(start.device_code), 400, 'access_denied', /declined/)
    // Final: the object stops polling.
    await alarmNow(start.device_code)
    expect(await tokenRequests(p.id)).toBe(1)
  })

  it('the provider says expired_token → expired_token', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 400, body: JSON.stringify({ error: 'expired_token' }), times: 1 })
    await pollNow(start.device_code)
    await expectError(await pollDevice(start.device_code), 400, 'expired_token')
  })

  it('past expires_in → expired_token without asking the provider', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await patch(start.device_code, { expires_at: Date.now() - 1 })
    await expectError(await pollDevice(start.device_code), 400, 'expired_token', /expired/)
    await pollNow(start.device_code)
    expect(await tokenRequests(p.id)).toBe(0)
  })

  it('a provider error that ends the grant (invalid_grant) → authorization_failed', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 400, body: JSON.stringify({ error: 'invalid_grant' }), times: 1 })
    await pollNow(start.device_code)
    await expectError(await pollDevice(start.device_code), 502, 'authorization_failed', /invalid_grant/)
  })

  it('a provider 5xx: still pending, next poll backed off (never sooner than the interval)', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token', status: 503, body: JSON.stringify({ error: 'temporarily_unavailable' }), times: 1 })
    const before = Date.now()
    await pollNow(start.device_code)
    const r = (await peek(start.device_code))!
    expect(r.state).toBe('pending')
    expect(r.next_poll_at).toBeGreaterThanOrEqual(before + 10_000)
    await expectError(await pollDevice(start.device_code), 400, 'authorization_pending')
  })

  it('approved tokens nobody claims are revoked at cleanup', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await userAtProvider(start.verification_uri_complete!)
    await pollNow(start.device_code)
    expect((await peek(start.device_code))!.state).toBe('approved')
    const revocationsBefore = (await lab.counts(p.id))['POST /token/revocation'] ?? 0
    await patch(start.device_code, { cleanup_at: Date.now() - 1 })
    await alarmNow(start.device_code)
    expect(await peek(start.device_code)).toBeUndefined()
    expect(((await lab.counts(p.id))['POST /token/revocation'] ?? 0) - revocationsBefore).toBe(2)
    await expectError(await pollDevice(start.device_code), 400, 'invalid_grant')
  })

  it('an app that stops polling pauses the poller; its next poll resumes it', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await runIdle(start.device_code)
    expect((await peek(start.device_code))!.paused).toBe(true)
    expect(await tokenRequests(p.id)).toBe(0)
    await expectError(await pollDevice(start.device_code), 400, 'authorization_pending')
    expect((await peek(start.device_code))!.paused).toBeUndefined()
    await pollNow(start.device_code)
    expect(await tokenRequests(p.id)).toBe(1)
  })

  it('a paused login still expires, and then waits for its cleanup (no alarm loop)', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await runIdle(start.device_code)
    await patch(start.device_code, { expires_at: Date.now() - 1 })
    await alarmNow(start.device_code)
    const r = (await peek(start.device_code))!
    expect(r.state).toBe('expired')
    const next = await runInDurableObject(stubOf(start.device_code), (_o, state) => state.storage.getAlarm())
    expect(next).toBe(r.cleanup_at)
    expect(next!).toBeGreaterThan(Date.now() + 60_000)
    expect(await tokenRequests(p.id)).toBe(0)
    await expectError(await pollDevice(start.device_code), 400, 'expired_token')
  })

  it('the device code is bound to the app that started it', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await userAtProvider(start.verification_uri_complete!)
    await pollNow(start.device_code)
    await expectError(await pollDevice(start.device_code, OTHER_APP), 400, 'invalid_grant')
    // No harm done: the right app still gets its session.
    expect((await pollDevice(start.device_code)).status).toBe(201)
  })

  it('concurrent polls after approval: exactly one session', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    await userAtProvider(start.verification_uri_complete!)
    await pollNow(start.device_code)
    const all = await Promise.all(Array.from({ length: 30 }, () => pollDevice(start.device_code)))
    expect(all.filter((r) => r.status === 201)).toHaveLength(1)
    for (const r of all.filter((x) => x.status !== 201)) await expectError(r, 400, 'invalid_grant')
  })
})

async function runIdle(code: string) {
  // The app's last poll was long ago (in the object's memory too).
  await runInDurableObject(stubOf(code), async (o) => {
    const obj = o as unknown as { record: Record<string, unknown>; save(r: unknown): void; lastAppPoll: number; alarm(): Promise<void> }
    obj.lastAppPoll = 0
    obj.save({ ...obj.record, last_app_poll_at: Date.now() - 10 * 60_000, next_poll_at: Date.now() })
    await obj.alarm()
  })
}

describe('device login through a Matrix homeserver', () => {
  it('asks for the device scope, checks whoami, answers user_id and device_id', async () => {
    const start = await started({ homeserver: homeserver('v1'), device_id: 'QRDEVICE01' })
    expect(start.device_id).toBe('QRDEVICE01')
    await userAtProvider(start.verification_uri_complete!)
    await pollNow(start.device_code)
    const res = await pollDevice(start.device_code)
    expect(res.status).toBe(201)
    const s = await res.json<{ user: Record<string, string>; scope: string; issuer: string }>()
    expect(s.user).toEqual({ sub: 'alice', user_id: '@alice:hs.test', device_id: 'QRDEVICE01' })
    expect(s.scope).toContain('urn:matrix:client:device:QRDEVICE01')
    expect(s.issuer).toBe(inject('oidcIssuer'))
  })

  it('generates a device ID when none is given, and returns it', async () => {
    const start = await started({ homeserver: homeserver('v1') })
    expect(start.device_id).toMatch(/^[A-Za-z0-9]{10}$/)
  })

  it('whoami names no device → missing_device_id, tokens dropped', async () => {
    const start = await started({ homeserver: homeserver('no-device') })
    await userAtProvider(start.verification_uri_complete!)
    await pollNow(start.device_code)
    const r = (await peek(start.device_code))!
    expect(r.state).toBe('failed')
    expect(r.tokens).toBeUndefined()
    await expectError(await pollDevice(start.device_code), 502, 'missing_device_id')
  })
})
