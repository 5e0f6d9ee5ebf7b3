// Property-based tests of every route (fast-check): malformed query strings, percent-encoding
// errors, huge values, wrong methods and content types, invalid and deep JSON, big bodies.
// Whatever comes in: never a 5xx, always the contract's error shape (or the 400 page), never a
// redirect to an unchecked URL, never a token or handle in an error body.
import fc from 'fast-check'
import { beforeAll, describe, expect, it, inject } from 'vitest'
import { registeredRoutes } from '../../src/http/app'
import '../../src/index'
import { APP, DEMO_RETURN } from '../constants'
import { basic, call, issuer } from '../helpers'
import { type NewSession, newSession } from '../browser'

const { runs, seed } = inject('fuzz')
const params = { numRuns: runs, seed }

let session: NewSession
beforeAll(async () => {
  session = await newSession({ issuer: issuer() })
})

// Values that could name a real host are defused: the fuzzer must only ever reach loopback.
const defuse = (v: string) => (/^https?:/i.test(v) || /^[A-Za-z0-9.:[\]-]+$/.test(v) ? `%%${v}` : v)

const junk = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom(
    '%',
    '%E0%A4%A',
    '%00',
    '%FF%FE',
    '../../',
    '<script>alert(1)</script>',
    'javascript:alert(1)',
    '\u0000',
    'a'.repeat(9000),
  ),
  fc.stringMatching(/^[%A-Fa-f0-9&=+]{0,40}$/),
)
const key = fc.oneof(
  fc.constantFrom(
    'issuer',
    'homeserver',
    'app',
    'return_to',
    'state',
    'prompt',
    'login_hint',
    'device_id',
    'scope',
    'code',
    'error',
    'iss',
    'action',
  ),
  fc.string({ maxLength: 12 }),
)
const rawQuery = fc
  .array(fc.tuple(key, junk), { maxLength: 8 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${defuse(v)}`).join('&'))
const encodedQuery = fc.array(fc.tuple(key, junk), { maxLength: 8 }).map((pairs) => {
  const q = new URLSearchParams()
  for (const [k, v] of pairs) q.append(k, defuse(v))
  return q.toString()
})

async function checkAnswer(res: Response, opts: { allowRedirect?: (location: string) => boolean; matrix?: boolean } = {}) {
  const text = await res.text()
  expect(res.status, text.slice(0, 200)).toBeLessThan(500)
  if (res.status >= 300) {
    expect(text).not.toContain(session.access_token)
    expect(text).not.toContain(session.session.split('.')[1])
  }
  expect(text).not.toMatch(/\bat [\w.]+ \(|node_modules|\.ts:\d+/)
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location') ?? ''
    expect(opts.allowRedirect?.(location) ?? false, `redirect to ${location}`).toBe(true)
    return
  }
  const type = res.headers.get('content-type') ?? ''
  if (res.status >= 400) {
    if (type.startsWith('text/html')) {
      expect(res.status === 400 || res.status === 404).toBe(true)
    } else {
      const body = JSON.parse(text) as Record<string, unknown>
      // The Matrix rendezvous routes answer the Matrix error shape, which Matrix clients read.
      if (opts.matrix) expect(typeof body.errcode).toBe('string')
      else expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
  }
}

// A redirect may only go to the app's registered return URL or to a known provider.
const trustedRedirect = (location: string) => location.startsWith(`${DEMO_RETURN}?`) || location.startsWith(`${issuer()}/auth?`)

describe('fuzz: query strings', () => {
  const getRoutes = ['/v1/discovery', '/v1/login', '/v1/callback', '/v1/session/account', '/apps/demo', '/healthz', '/openapi.json']
  it.each(getRoutes)('GET %s with raw and encoded junk', async (path) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(rawQuery, encodedQuery), async (q) => {
        const headers = path.startsWith('/v1/session') ? { authorization: `Bearer ${session.session}` } : undefined
        await checkAnswer(await call(`${path}?${q}`, headers ? { headers } : {}), { allowRedirect: trustedRedirect })
      }),
      params,
    )
  })

  it('GET /v1/login with a trusted app and junk everywhere else', async () => {
    await fc.assert(
      fc.asyncProperty(encodedQuery, async (q) => {
        const base = new URLSearchParams({ app: APP.id, return_to: DEMO_RETURN, issuer: issuer() })
        await checkAnswer(await call(`/v1/login?${base}&${q}`), { allowRedirect: trustedRedirect })
      }),
      params,
    )
  })
})

describe('fuzz: bodies', () => {
  const posts: [string, 'app' | 'session'][] = [
    ['/v1/registrations', 'app'],
    ['/v1/login', 'app'],
    ['/v1/sessions', 'app'],
    ['/v1/sessions/import', 'app'],
    ['/v1/session/token', 'session'],
    ['/v1/session/refresh', 'session'],
    ['/v1/session/scope', 'session'],
    ['/v1/session/account', 'session'],
  ]
  const deep = fc.integer({ min: 1, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n))
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.object().map((v) => JSON.stringify(v)),
    fc
      .record(
        { issuer: junk.map(defuse), code: junk, scope: junk, return_to: junk, min_ttl: fc.oneof(fc.integer(), fc.double(), fc.string()) },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    deep,
    junk,
  )
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
  )
  it.each(posts)('POST %s', async (path, auth) => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (b, type) => {
        const headers: Record<string, string> = { authorization: auth === 'app' ? basic(APP) : `Bearer ${session.session}` }
        if (type) headers['content-type'] = type
        // Login may redirect nowhere here (JSON API); scope and login answer URLs, not redirects.
        await checkAnswer(await call(path, { method: 'POST', headers, body: b }))
      }),
      { ...params, numRuns: Math.max(10, Math.floor(runs / 2)) },
    )
  })

  it('1 MB bodies → 413 everywhere', async () => {
    for (const [path, auth] of posts) {
      const res = await call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth === 'app' ? basic(APP) : `Bearer ${session.session}` },
        body: JSON.stringify({ pad: 'x'.repeat(1 << 20) }),
      })
      // account is a GET route: POST there is 405
      expect([413, 405]).toContain(res.status)
      await checkAnswer(res)
    }
  })
})

describe('fuzz: methods and headers', () => {
  // Every route the app serves (ids filled in), and one it does not.
  const paths = [...new Set(registeredRoutes().map((r) => r.path.replace(/:\w+/g, 'x'))), '/nope']
  it('wrong methods → 404/405, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET', 'POST'),
        async (path, method) => {
          await checkAnswer(await call(path, { method }), { allowRedirect: trustedRedirect, matrix: path.startsWith('/_matrix/') })
        },
      ),
      params,
    )
  })

  it('hostile Authorization headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/session', '/v1/registrations'),
        junk.filter((s) => !/[\r\n\0]/.test(s)),
        fc.constantFrom('Bearer ', 'Basic ', ''),
        async (path, value, scheme) => {
          let headers: Record<string, string>
          try {
            headers = { authorization: `${scheme}${value}`.slice(0, 8000) }
            new Headers(headers)
          } catch {
            return // not a header value a client could send
          }
          await checkAnswer(await call(path, { method: path === '/v1/registrations' ? 'POST' : 'GET', headers }))
        },
      ),
      params,
    )
  })
})
