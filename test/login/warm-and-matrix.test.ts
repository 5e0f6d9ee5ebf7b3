import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, inject, vi } from 'vitest'
import { DEMO_RETURN } from '../constants'
import { homeserver, lab } from '../helpers'
import { Browser, browserLogin, loginUrl, redeem } from '../browser'

afterEach(() => vi.restoreAllMocks())

function spyIo() {
  const spies = [
    vi.spyOn(globalThis, 'fetch'),
    vi.spyOn(env.CACHE, 'get'),
    vi.spyOn(env.CACHE, 'put'),
    vi.spyOn(env.CACHE, 'delete'),
    vi.spyOn(env.CACHE, 'list'),
    vi.spyOn(env.SESSION, 'get'),
    vi.spyOn(env.SESSION, 'idFromName'),
    vi.spyOn(env.SESSION, 'getByName'),
    vi.spyOn(env.REGISTRAR, 'get'),
    vi.spyOn(env.REGISTRAR, 'getByName'),
  ]
  return {
    fetches: () => spies[0]!.mock.calls.length,
    storage: () => spies.slice(1).reduce((n, s) => n + s.mock.calls.length, 0),
    reset: () => spies.forEach((s) => s.mockClear()),
  }
}

describe('a warm login redirect', () => {
  it('makes no subrequest and no storage operation', async () => {
    const p = await lab.spawn()
    const io = spyIo()
    const cold = await new Browser().get(loginUrl({ issuer: p.issuer }))
    expect(cold.status).toBe(302)
    // The spies do see the cold path (discovery, registration): they would see a warm one too.
    expect(io.fetches()).toBeGreaterThan(0)
    expect(io.storage()).toBeGreaterThan(0)
    io.reset()
    for (let i = 0; i < 10; i++) {
      const warm = await new Browser().get(loginUrl({ issuer: p.issuer }))
      expect(warm.status).toBe(302)
    }
    expect(io.fetches()).toBe(0)
    expect(io.storage()).toBe(0)
  })
})

describe('Matrix login through a homeserver', () => {
  it('asks for the stable Matrix scopes with a generated device ID', async () => {
    const res = await new Browser().get(loginUrl({ homeserver: homeserver('v1') }))
    const scope = new URL(res.headers.get('location')!).searchParams.get('scope')!.split(' ')
    expect(scope.slice(0, 2)).toEqual(['openid', 'urn:matrix:client:api:*'])
    expect(scope[2]).toMatch(/^urn:matrix:client:device:[A-Za-z0-9]{10}$/)
  })

  it('falls back to the unstable MSC2967 scopes when the provider does not list the stable ones', async () => {
    const res = await new Browser().get(loginUrl({ homeserver: homeserver('unstable-scopes') }))
    const scope = new URL(res.headers.get('location')!).searchParams.get('scope')!.split(' ')
    expect(scope.slice(0, 2)).toEqual(['openid', 'urn:matrix:org.matrix.msc2967.client:api:*'])
    expect(scope[2]).toMatch(/^urn:matrix:org\.matrix\.msc2967\.client:device:[A-Za-z0-9]{10}$/)
  })

  it('records user_id and device_id from whoami', async () => {
    const back = await browserLogin({ homeserver: homeserver('v1'), device_id: 'MYDEVICE42' })
    expect(back.origin + back.pathname).toBe(DEMO_RETURN)
    const res = await redeem(back.searchParams.get('code')!)
    expect(res.status).toBe(201)
    const s = await res.json<{ user: Record<string, string>; scope: string }>()
    expect(s.user).toEqual({ sub: 'alice', user_id: '@alice:hs.test', device_id: 'MYDEVICE42' })
    expect(s.scope).toContain('urn:matrix:client:device:MYDEVICE42')
  })

  it('no device ID from whoami → error=missing_device_id and the tokens are revoked', async () => {
    const browser = new Browser()
    const back = await browserLogin({ homeserver: homeserver('no-device') }, browser)
    expect(back.searchParams.get('error')).toBe('missing_device_id')
    expect(back.searchParams.get('code')).toBeNull()
  })

  it('another device than asked → error=missing_device_id', async () => {
    const back = await browserLogin({ homeserver: homeserver('other-device') })
    expect(back.searchParams.get('error')).toBe('missing_device_id')
  })

  it('whoami failing → error=authorization_failed', async () => {
    const back = await browserLogin({ homeserver: homeserver('whoami-500') })
    expect(back.searchParams.get('error')).toBe('authorization_failed')
  })

  it('a bare server name works for login too', async () => {
    const back = await browserLogin({ homeserver: new URL(inject('hostileUrl')).host })
    expect((await redeem(back.searchParams.get('code')!)).status).toBe(201)
  })
})
