// The typed client, end to end against the broker running in workerd and the real provider.
import { exports } from 'cloudflare:workers'
import { describe, expect, it, inject } from 'vitest'
import { BrokerApiError, BrokerClient } from '../../src/client'
import { APP, DEMO_RETURN } from '../constants'
import { BROKER, introspect, lab } from '../helpers'
import { APP_ORIGIN, Browser } from '../browser'

const client = new BrokerClient({ baseUrl: BROKER, app: APP, fetch: (r) => exports.default.fetch(r) })

async function login(issuer: string) {
  const back = await new Browser().follow(client.loginUrl(APP.id, { issuer, return_to: DEMO_RETURN, state: 'c1' }), APP_ORIGIN)
  return client.createSession(back.searchParams.get('code')!)
}

describe('BrokerClient', () => {
  it('logs in, caches the token, and retries once with a new token on a 401', async () => {
    const p = await lab.spawn()
    const { session, created } = await login(p.issuer)
    expect(created.user.sub).toBe('alice')
    // Cached until min_ttl: no broker call needed.
    expect(await session.getToken()).toBe(created.access_token)
    const me = await session.fetch(`${p.issuer}/me`)
    expect(me.status).toBe(200)
    // The provider forgets the token: the resource server now says 401; the client asks the
    // broker for a replacement (stale_token_sha256) and retries once.
    await fetch(`${inject('labUrl')}/providers/${p.id}/revoke`, { method: 'POST', body: created.access_token })
    const again = await session.fetch(`${p.issuer}/me`)
    expect(again.status).toBe(200)
    const fresh = await session.getToken()
    expect(fresh).not.toBe(created.access_token)
    expect(await introspect(p.id, fresh)).toMatchObject({ active: true })
  })

  it('shares one broker request among concurrent getToken calls', async () => {
    const p = await lab.spawn()
    const { created } = await login(p.issuer)
    const s = client.session(created.session) // no cached token
    const tokens = await Promise.all(Array.from({ length: 20 }, () => s.getToken({ minTtl: 86_400 })))
    expect(new Set(tokens).size).toBe(1)
    expect((await lab.counts(p.id))['POST /token'] ?? 0).toBe(2) // the code exchange + one refresh
  })

  it('info, refresh, account, logout', async () => {
    const p = await lab.spawn()
    const { session } = await login(p.issuer)
    expect((await session.info()).state).toBe('active')
    expect((await session.refresh()).refreshed).toBe(true)
    expect(await session.accountUrl({ action: 'org.matrix.profile' })).toContain(`${p.issuer}/account?action=org.matrix.profile`)
    expect(session.events().protocols[1]).toBe(`session.${session.handle}`)
    expect((await session.logout()).revoked).toEqual({ access_token: true, refresh_token: true })
    await expect(session.info()).rejects.toMatchObject({ status: 401, code: 'invalid_session' })
  })

  it('typed errors', async () => {
    const err = await client.createSession('nope').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BrokerApiError)
    expect(err).toMatchObject({ status: 400, code: 'invalid_grant' })
    const bad = new BrokerClient({ baseUrl: BROKER, app: { id: APP.id, secret: 'wrong' }, fetch: (r) => exports.default.fetch(r) })
    await expect(bad.register({ issuer: 'https://x.example' })).rejects.toMatchObject({ status: 401, code: 'invalid_app' })
    await expect(client.discover({ issuer: 'not a url' })).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('discovery and registration', async () => {
    const p = await lab.spawn()
    expect((await client.discover({ issuer: p.issuer })).source).toBe('openid-configuration')
    expect((await client.register({ issuer: p.issuer })).source).toBe('registered')
    const { url } = await client.startLogin({ issuer: p.issuer, return_to: DEMO_RETURN })
    expect(url).toContain(`${p.issuer}/auth?`)
  })
})
