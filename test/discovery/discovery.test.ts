import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../../src/crypto/hash'
import { kvKeys } from '../../src/storage/keys'
import { call, expectError, homeserver, hostile, issuer, lab } from '../helpers'

const discover = (q: Record<string, string>) => call(`/v1/discovery?${new URLSearchParams(q)}`)

afterEach(() => vi.restoreAllMocks())

describe('GET /v1/discovery by issuer', () => {
  it('returns the validated metadata of a real provider', async () => {
    const res = await discover({ issuer: issuer() })
    expect(res.status).toBe(200)
    const body = await res.json<{ issuer: string; source: string; metadata: Record<string, unknown> }>()
    expect(body.issuer).toBe(issuer())
    expect(body.source).toBe('openid-configuration')
    expect(body.metadata.token_endpoint).toBe(`${issuer()}/token`)
    expect(body.metadata.code_challenge_methods_supported).toContain('S256')
  })

  it('answers a warm discovery with no subrequest and no KV read', async () => {
    const p = await lab.spawn()
    expect((await discover({ issuer: p.issuer })).status).toBe(200)
    const fetchSpy = vi.spyOn(globalThis, 'fetch')
    const kvSpy = vi.spyOn(env.CACHE, 'get')
    for (let i = 0; i < 5; i++) expect((await discover({ issuer: p.issuer })).status).toBe(200)
    expect(fetchSpy).not.toHaveBeenCalled()
    expect(kvSpy).not.toHaveBeenCalled()
    expect((await lab.counts(p.id))['GET /.well-known/openid-configuration']).toBe(1)
  })

  it('fetches once for many concurrent cold requests', async () => {
    const p = await lab.spawn()
    const all = await Promise.all(Array.from({ length: 20 }, () => discover({ issuer: p.issuer })))
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect((await lab.counts(p.id))['GET /.well-known/openid-configuration']).toBe(1)
  })

  it('caches in KV with the provider TTL clamped', async () => {
    const res = await discover({ issuer: hostile('ok') })
    expect(res.status).toBe(200)
    type Entry = { value: { issuer: string }; freshUntil: number; staleUntil: number }
    let entry: Entry | undefined
    // The KV write is a waitUntil after the answer: poll for it.
    for (let i = 0; i < 50 && !entry; i++) {
      const keys = await env.CACHE.list({ prefix: 'discovery:issuer:' })
      const entries = await Promise.all(keys.keys.map((k) => env.CACHE.get<Entry>(k.name, 'json')))
      entry = entries.find((e) => e?.value.issuer === hostile('ok')) ?? undefined
      if (!entry) await new Promise((r) => setTimeout(r, 20))
    }
    expect(entry).toBeDefined()
    // max-age=120 from the provider
    expect(entry!.freshUntil - Date.now()).toBeGreaterThan(100_000)
    expect(entry!.freshUntil - Date.now()).toBeLessThanOrEqual(120_000)
  })

  it('serves a stale entry at once and refreshes it in the background', async () => {
    const p = await lab.spawn()
    const fresh = await (await discover({ issuer: hostile('ok') })).json<{ metadata: Record<string, unknown> }>()
    const key = kvKeys.issuerMetadata(await sha256Hex(p.issuer))
    const now = Date.now()
    const stale = {
      value: { issuer: p.issuer, source: 'openid-configuration', metadata: { ...fresh.metadata, issuer: p.issuer, x_marker: 'stale' } },
      freshUntil: now - 1000,
      staleUntil: now + 60_000,
    }
    await env.CACHE.put(key, JSON.stringify(stale))
    const first = await (await discover({ issuer: p.issuer })).json<{ metadata: Record<string, unknown> }>()
    expect(first.metadata.x_marker).toBe('stale')
    let count = 0
    for (let i = 0; i < 50 && count === 0; i++) {
      count = (await lab.counts(p.id))['GET /.well-known/openid-configuration'] ?? 0
      if (!count) await new Promise((r) => setTimeout(r, 20))
    }
    expect(count).toBe(1)
    let again: Record<string, unknown> = first.metadata
    for (let i = 0; i < 50 && again.x_marker; i++) {
      again = (await (await discover({ issuer: p.issuer })).json<{ metadata: Record<string, unknown> }>()).metadata
      if (again.x_marker) await new Promise((r) => setTimeout(r, 20))
    }
    expect(again.x_marker).toBeUndefined()
  })

  it('falls back to RFC 8414 metadata', async () => {
    const res = await discover({ issuer: hostile('oauth-only') })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ issuer: hostile('oauth-only'), source: 'oauth-authorization-server' })
  })

  it('follows a redirect on the same origin', async () => {
    expect((await discover({ issuer: hostile('redirect-same') })).status).toBe(200)
  })

  it('accepts OpenID metadata without code_challenge_methods_supported (nonce covers it)', async () => {
    expect((await discover({ issuer: hostile('no-pkce-list') })).status).toBe(200)
  })

  it.each([
    ['wrong-issuer', /issuer/],
    ['trailing-slash-issuer', /issuer/],
    ['html', /text\/html, not JSON/],
    ['not-json', /not valid JSON|not JSON/],
    ['text-json', /text\/plain, not JSON/],
    ['array', /malformed/],
    ['huge', /larger than/],
    ['huge-declared', /larger than/],
    ['status-500', /HTTP 500/],
    ['redirect-other', /another origin/],
    ['redirect-loop', /too often/],
    ['no-s256', /PKCE/],
    ['oauth-no-pkce-list', /PKCE/],
    ['no-code', /authorization code/],
    ['no-token-endpoint', /token_endpoint/],
    ['does-not-exist', /no metadata|HTTP 404/],
  ])('hostile provider %s → 502 discovery_failed', async (scenario, describes) => {
    await expectError(await discover({ issuer: hostile(scenario) }), 502, 'discovery_failed', describes)
  })

  it.each([['slow'], ['drip']])('a %s provider → 504 provider_timeout', async (scenario) => {
    await expectError(await discover({ issuer: hostile(scenario) }), 504, 'provider_timeout', /did not (answer|finish)/)
  })

  it('an unreachable provider → 502 discovery_failed', async () => {
    await expectError(await discover({ issuer: 'http://127.0.0.1:1' }), 502, 'discovery_failed', /could not be reached/)
  })

  it('does not cache failures', async () => {
    const p = await lab.spawn()
    await lab.fault(p.id, { route: 'GET /.well-known/openid-configuration', status: 503, times: 1 })
    await expectError(await discover({ issuer: p.issuer }), 502, 'discovery_failed', /HTTP 503/)
    expect((await discover({ issuer: p.issuer })).status).toBe(200)
  })
})

describe('GET /v1/discovery by homeserver (MSC2965)', () => {
  it.each([
    ['v1', 'auth_metadata'],
    ['unstable', 'auth_metadata'],
    ['issuer', 'auth_issuer'],
  ])('mode %s → source %s', async (mode, source) => {
    const res = await discover({ homeserver: homeserver(mode) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ issuer: issuer(), source, homeserver: homeserver(mode) })
  })

  it('resolves a bare server name through /.well-known/matrix/client', async () => {
    const serverName = new URL(homeserver('v1')).host
    const res = await discover({ homeserver: serverName })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ issuer: issuer(), source: 'auth_metadata', homeserver: homeserver('v1') })
  })

  it('a homeserver without OAuth → 404 no_authentication_issuer', async () => {
    await expectError(await discover({ homeserver: homeserver('none') }), 404, 'no_authentication_issuer', /does not offer/)
  })

  it('a broken homeserver → 502 discovery_failed', async () => {
    await expectError(await discover({ homeserver: homeserver('broken') }), 502, 'discovery_failed', /HTTP 500/)
  })
})

describe('GET /v1/discovery bad input', () => {
  it.each([
    ['no parameter', ''],
    ['both parameters', `issuer=${encodeURIComponent('https://a.example')}&homeserver=b.example`],
    ['issuer not a URL', 'issuer=not-a-url'],
    ['issuer ftp', 'issuer=ftp://a.example'],
    ['issuer with query', `issuer=${encodeURIComponent('https://a.example/?x=1')}`],
    ['issuer with fragment', `issuer=${encodeURIComponent('https://a.example/#x')}`],
    ['issuer with credentials', `issuer=${encodeURIComponent('https://user:pw@a.example')}`],
    ['issuer twice', 'issuer=https://a.example&issuer=https://b.example'],
    ['huge issuer', `issuer=https://a.example/${'a'.repeat(5000)}`],
    ['unknown parameter', `issuer=${encodeURIComponent('https://a.example')}&x=1`],
    ['homeserver junk', 'homeserver=%3Cscript%3E'],
    ['javascript issuer', 'issuer=javascript:alert(1)'],
  ])('%s → 400 invalid_request', async (_name, qs) => {
    await expectError(await call(`/v1/discovery?${qs}`), 400, 'invalid_request')
  })

  it('bad percent-encoding → 400 invalid_request', async () => {
    await expectError(await call('/v1/discovery?issuer=%E0%A4%A'), 400, 'invalid_request')
  })

  it('wrong method → 405', async () => {
    await expectError(await call('/v1/discovery', { method: 'DELETE' }), 405, 'method_not_allowed')
  })
})
