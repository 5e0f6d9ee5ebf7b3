// The demo app at `/`: off by default, its login and callback (state bound to a cookie, never a
// redirect to anything but `/`), and the /demo/api/* proxy that keeps the handle server-side.
import { describe, expect, it } from 'vitest'
import { APP } from '../constants'
import { BROKER, call, expectError, issuer } from '../helpers'
import { browserLogin } from '../browser'
import { DEMO_CALLBACK, DemoBrowser, demoEnv, demoFetch, demoLogin, SESSION_COOKIE, STATE_COOKIE } from './demo-browser'

/** A 400 HTML page naming `code`, and no redirect anywhere. */
async function expectPage(res: Response, status: number, code: string) {
  const text = await res.text()
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status, location: null })
  expect(res.headers.get('content-type')).toMatch(/^text\/html/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(text).toContain(`<code>${code}</code>`)
  return text
}

/** A demo login started in `browser`: the state the demo sent to the broker. */
async function startLogin(browser: DemoBrowser): Promise<string> {
  const res = await browser.get('/demo/login?provider=local&issuer=&homeserver=')
  expect(res.status).toBe(302)
  return new URL(res.headers.get('location')!).searchParams.get('state')!
}

/** A real broker code for the demo app (through the suite's own return URL). */
async function brokerCode(): Promise<string> {
  const back = await browserLogin({ issuer: issuer() })
  return back.searchParams.get('code')!
}

describe('the demo is off unless DEMO_APP_ID and DEMO_APP_SECRET are set', () => {
  it('`/` is a landing page and /demo/* is 404', async () => {
    const res = await call('/')
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).toContain('<h1>Edge token broker</h1>')
    expect(text).toContain('<main>')
    expect(text).not.toContain('/demo/')
    expect(text).toContain('<a href="/docs">')
    for (const [method, path] of [
      ['GET', '/demo/login?provider=local'],
      ['GET', '/demo/callback?code=x&state=y'],
      ['GET', '/demo/api/session'],
      ['POST', '/demo/api/logout'],
      ['GET', '/demo/api/token'],
      ['GET', '/demo/app.js'],
    ] as const) {
      await expectError(await call(path, { method }), 404, 'not_found')
    }
  })

  it('half a configuration is named, not silently ignored', async () => {
    const half = { ...demoEnv, DEMO_APP_SECRET: '' } as Env
    await expectError(await demoFetch('/demo/api/session', {}, half), 500, 'misconfigured', /DEMO_APP_SECRET is not set/)
  })

  it('other methods on `/` are 405', async () => {
    await expectError(await call('/', { method: 'POST' }), 405, 'method_not_allowed')
  })
})

describe('the demo page', () => {
  it('offers the embedded provider, an issuer or a homeserver, with labels and a strict CSP', async () => {
    const res = await demoFetch('/')
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    const text = await res.text()
    expect(text).toContain('<html lang="en">')
    expect(text).toContain('<main>')
    expect(text).toMatch(/<input type="radio" name="provider" id="p-local" value="local" checked>\s*<label for="p-local">/)
    expect(text).toContain(`<code>${issuer()}</code>`)
    expect(text).toContain('<label for="issuer"')
    expect(text).toContain('<label for="homeserver"')
    expect(text).toContain('<script src="/demo/app.js" defer></script>')
    expect(text).not.toMatch(/<script>/)
    const js = await demoFetch('/demo/app.js')
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await js.text()).toContain("'/demo/api/'")
  })

  it('GET /demo/login sends the browser to /v1/login with a state bound to a cookie', async () => {
    const res = await demoFetch(`/demo/login?provider=issuer&issuer=${encodeURIComponent(issuer())}&homeserver=`)
    expect(res.status).toBe(302)
    const to = new URL(res.headers.get('location')!)
    expect(to.origin + to.pathname).toBe(`${BROKER}/v1/login`)
    expect(Object.fromEntries(to.searchParams)).toEqual({
      app: APP.id,
      return_to: DEMO_CALLBACK,
      state: expect.stringMatching(/^[\w-]{43}$/),
      issuer: issuer(),
    })
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${STATE_COOKIE}=`))!
    expect(cookie).toContain(`${STATE_COOKIE}=${to.searchParams.get('state')}`)
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/Secure/i)
    expect(cookie).toMatch(/SameSite=Lax/i)
    expect(cookie).toMatch(/Path=\//)
    const hs = await demoFetch('/demo/login?provider=homeserver&issuer=&homeserver=matrix.example.test')
    expect(new URL(hs.headers.get('location')!).searchParams.get('homeserver')).toBe('matrix.example.test')
  })

  it.each([
    ['no provider chosen', ''],
    ['an unknown choice', 'provider=elsewhere'],
    ['an empty issuer', 'provider=issuer&issuer=&homeserver='],
    ['an empty homeserver', 'provider=homeserver&issuer=&homeserver=%20'],
    ['a repeated parameter', 'provider=local&provider=issuer'],
  ])('GET /demo/login with %s → a 400 page, no cookie', async (_name, query) => {
    const res = await demoFetch(`/demo/login?${query}`)
    await expectPage(res, 400, 'invalid_request')
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('a demo app that does not list the callback is a clear page, not a broker refusal', async () => {
    const apps = (JSON.parse(demoEnv.BROKER_APPS) as Array<{ id: string; return_urls: string[] }>).map((a) => ({
      ...a,
      return_urls: a.return_urls.filter((u) => u !== DEMO_CALLBACK),
    }))
    const res = await demoFetch('/demo/login?provider=local&issuer=&homeserver=', {}, {
      ...demoEnv,
      BROKER_APPS: JSON.stringify(apps),
    } as Env)
    expect(await expectPage(res, 500, 'misconfigured')).toContain(DEMO_CALLBACK)
  })
})

describe('GET /demo/callback', () => {
  it('the whole login: the state checks out, the code is redeemed, the handle stays in an HttpOnly cookie, back to /', async () => {
    const { browser, hops } = await demoLogin()
    const callback = hops.find((h) => h.startsWith(DEMO_CALLBACK))!
    expect(new URL(callback).searchParams.get('code')).toMatch(/^[0-9a-f]{64}\./)
    expect(hops.at(-1)).toBe(`${BROKER}/`)
    expect(browser.cookies().get(SESSION_COOKIE)).toMatch(/^[0-9a-f]{64}\.[\w-]{43}$/)
    expect(browser.cookies().has(STATE_COOKIE)).toBe(false)
    // The session cookie's attributes, from a callback's own answer.
    const b2 = new DemoBrowser()
    const state = await startLogin(b2)
    const res = await b2.get(`${DEMO_CALLBACK}?code=${encodeURIComponent(await brokerCode())}&state=${state}`)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
    const set = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))!
    expect(set).toMatch(/HttpOnly/i)
    expect(set).toMatch(/SameSite=Lax/i)
    expect(set).toMatch(/Secure/i)
    const page = await (await b2.get('/')).text()
    expect(page).not.toContain(b2.cookies().get(SESSION_COOKIE)!)
  })

  it('a state without its cookie (another browser) → 400 invalid_state', async () => {
    const state = await startLogin(new DemoBrowser())
    const res = await new DemoBrowser().get(`${DEMO_CALLBACK}?code=${encodeURIComponent(await brokerCode())}&state=${state}`)
    await expectPage(res, 400, 'invalid_state')
  })

  it('a state that is not the cookie’s → 400 invalid_state, and the cookie is spent', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    await expectPage(await browser.get(`${DEMO_CALLBACK}?code=x&state=${state.slice(0, -1)}A`), 400, 'invalid_state')
    await expectPage(await browser.get(`${DEMO_CALLBACK}?code=x&state=${state}`), 400, 'invalid_state')
  })

  it('no state at all → 400 invalid_state', async () => {
    const browser = new DemoBrowser()
    await startLogin(browser)
    await expectPage(await browser.get(`${DEMO_CALLBACK}?code=x`), 400, 'invalid_state')
  })

  it('a replayed callback → 400: the state cookie is gone, and a kept one meets a spent code', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    const url = `${DEMO_CALLBACK}?code=${encodeURIComponent(await brokerCode())}&state=${state}`
    expect((await browser.get(url)).status).toBe(303)
    await expectPage(await browser.get(url), 400, 'invalid_state')
    // Someone who kept the state cookie: the broker refuses the used code (and ends that session).
    const replayer = new DemoBrowser()
    replayer.setCookie(STATE_COOKIE, state)
    await expectPage(await replayer.get(url), 400, 'invalid_grant')
    expect(replayer.cookies().has(SESSION_COOKIE)).toBe(false)
  })

  it('a valid state but neither code nor error → 400 invalid_callback', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    await expectPage(await browser.get(`${DEMO_CALLBACK}?state=${state}`), 400, 'invalid_callback')
  })

  it('a repeated parameter → 400 invalid_callback', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    await expectPage(await browser.get(`${DEMO_CALLBACK}?state=${state}&state=${state}&code=x`), 400, 'invalid_callback')
  })

  it('an unknown code with a valid state → 400 invalid_grant, no session', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    await expectPage(await browser.get(`${DEMO_CALLBACK}?state=${state}&code=${'a'.repeat(64)}.${'B'.repeat(43)}`), 400, 'invalid_grant')
    expect(browser.cookies().has(SESSION_COOKIE)).toBe(false)
  })

  it('an error from the broker is shown (escaped), never followed', async () => {
    const browser = new DemoBrowser()
    const state = await startLogin(browser)
    const text = await expectPage(
      await browser.get(`${DEMO_CALLBACK}?state=${state}&error=access_denied&error_description=${encodeURIComponent('<b>no</b>')}`),
      400,
      'access_denied',
    )
    expect(text).toContain('&lt;b&gt;no&lt;/b&gt;')
    const b2 = new DemoBrowser()
    const s2 = await startLogin(b2)
    await expectPage(await b2.get(`${DEMO_CALLBACK}?state=${s2}&error=${encodeURIComponent('"><script>')}`), 400, 'error')
  })

  it('a provider the broker refuses comes back as the broker’s error', async () => {
    const browser = new DemoBrowser()
    const { res } = await browser.walk('/demo/login?provider=issuer&issuer=ftp%3A%2F%2Fnope&homeserver=')
    await expectPage(res, 400, 'invalid_request')
  })
})

describe('/demo/api/*', () => {
  it.each([
    ['GET', '/demo/api/session'],
    ['POST', '/demo/api/token'],
    ['POST', '/demo/api/refresh'],
    ['GET', '/demo/api/account'],
    ['POST', '/demo/api/logout'],
  ])('%s %s without the cookie → 401 invalid_session JSON', async (method, path) => {
    await expectError(await demoFetch(path, { method }), 401, 'invalid_session')
  })

  it('the events WebSocket without the cookie → 401; without Upgrade → 400', async () => {
    await expectError(await demoFetch('/demo/api/events', { headers: { upgrade: 'websocket' } }), 401, 'invalid_session')
    await expectError(await demoFetch('/demo/api/events'), 400, 'invalid_request')
  })

  it('a cookie the broker does not know → 401, and the cookie is dropped', async () => {
    const browser = new DemoBrowser()
    browser.setCookie(SESSION_COOKIE, `${'a'.repeat(64)}.${'B'.repeat(43)}`)
    await expectError(await browser.get('/demo/api/session'), 401, 'invalid_session')
    expect(browser.cookies().has(SESSION_COOKIE)).toBe(false)
  })

  it('wrong methods → 405', async () => {
    await expectError(await demoFetch('/demo/api/token'), 405, 'method_not_allowed')
    await expectError(await demoFetch('/demo/api/session', { method: 'POST' }), 405, 'method_not_allowed')
  })

  it('session, token, refresh, events, account and logout, with no handle or token in any answer', async () => {
    const { browser } = await demoLogin()
    const handle = browser.cookies().get(SESSION_COOKIE)!
    const seen: string[] = []
    const json = async <T>(res: Response): Promise<T> => {
      const text = await res.text()
      expect(res.status, text).toBe(200)
      expect(res.headers.get('cache-control')).toBe('no-store')
      seen.push(text)
      return JSON.parse(text) as T
    }
    const info = await json<{ user: { sub: string }; issuer: string; scope: string; state: string }>(await browser.get('/demo/api/session'))
    expect(info).toMatchObject({ user: { sub: 'alice' }, issuer: issuer(), state: 'active' })
    expect(info).not.toHaveProperty('session_id')

    const token = await json<Record<string, unknown>>(await browser.post('/demo/api/token', { origin: BROKER }))
    expect(Object.keys(token).sort()).toEqual(['expires_at', 'expires_in', 'refreshed', 'scope', 'token_sha256_prefix'])
    expect(token.token_sha256_prefix).toMatch(/^[0-9a-f]{12}$/)
    expect(token.expires_in).toBeGreaterThan(3000)

    const events = await browser.get('/demo/api/events', { upgrade: 'websocket', origin: BROKER })
    expect(events.status).toBe(101)
    const ws = events.webSocket!
    ws.accept()
    const messages: Array<{ type: string }> = []
    ws.addEventListener('message', (e) => {
      messages.push(JSON.parse(e.data as string))
    })
    const until = async (type: string) => {
      for (let i = 0; i < 300 && !messages.some((m) => m.type === type); i++) await new Promise((r) => setTimeout(r, 10))
      expect(messages.map((m) => m.type)).toContain(type)
    }

    const refreshed = await json<{ token_sha256_prefix: string; refreshed: boolean }>(await browser.post('/demo/api/refresh'))
    expect(refreshed.refreshed).toBe(true)
    expect(refreshed.token_sha256_prefix).not.toBe(token.token_sha256_prefix)
    await until('tokens_refreshed')

    expect(await json(await browser.get('/demo/api/account'))).toEqual({ available: true })
    const account = await browser.get('/demo/account')
    expect(account.status).toBe(303)
    expect(account.headers.get('location')!.startsWith(`${issuer()}/account`)).toBe(true)

    const out = await json<{ revoked: Record<string, boolean> }>(await browser.post('/demo/api/logout', { origin: BROKER }))
    expect(out).toEqual({ revoked: { access_token: true, refresh_token: true } })
    await until('logged_out')
    expect(browser.cookies().has(SESSION_COOKIE)).toBe(false)

    for (const text of seen) {
      expect(text).not.toContain(handle)
      expect(text).not.toContain(handle.split('.')[1]!)
      expect(text).not.toMatch(/access_token"\s*:\s*"|id_token|eyJ/)
    }
    // The old handle is dead at the broker too.
    const again = new DemoBrowser()
    again.setCookie(SESSION_COOKIE, handle)
    await expectError(await again.get('/demo/api/session'), 401, 'invalid_session')
  })

  it('writes and the WebSocket from another origin are refused, cookie or not', async () => {
    const { browser } = await demoLogin()
    const evil = { origin: 'http://127.0.0.1:9999' }
    await expectError(await browser.post('/demo/api/logout', evil), 400, 'invalid_request', /Cross-origin/)
    await expectError(await browser.post('/demo/api/refresh', evil), 400, 'invalid_request', /Cross-origin/)
    await expectError(await browser.get('/demo/api/events', { upgrade: 'websocket', ...evil }), 400, 'invalid_request', /Cross-origin/)
    // Still logged in.
    expect((await browser.get('/demo/api/session')).status).toBe(200)
    await browser.post('/demo/api/logout', { origin: BROKER })
  })
})
