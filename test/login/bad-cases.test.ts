import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { sealState } from '../../src/login/state'
import { APP, DEMO_RETURN, OTHER_APP, STATE_SECRET } from '../constants'
import { basic, BROKER, call, expectError, hostile, issuer, lab, postJson } from '../helpers'
import { APP_ORIGIN, Browser, browserLogin, loginUrl, redeem, untilCallback } from '../browser'
import { inject } from 'vitest'

const op = (scenario: string) => `${inject('hostileUrl')}/op/${scenario}`

async function expectPage(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('location')).toBeNull()
  expect(res.headers.get('content-type')).toMatch(/^text\/html/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const text = await res.text()
  expect(text).toContain(code)
  expect(text).not.toMatch(/\bat [\w.]+ \(|node_modules/)
}

function expectBackWithError(back: URL, error: string, describes?: RegExp) {
  expect(back.origin + back.pathname).toBe(DEMO_RETURN)
  expect(back.searchParams.get('code')).toBeNull()
  expect(back.searchParams.get('error')).toBe(error)
  expect(back.searchParams.get('state')).toBe('app-state-1')
  expect(back.searchParams.get('error_description')?.length).toBeGreaterThan(5)
  if (describes) expect(back.searchParams.get('error_description')).toMatch(describes)
}

/** GET /v1/login whose answer is a redirect straight back to the app (an early failure). */
async function earlyFailure(params: Record<string, string>): Promise<URL> {
  const res = await new Browser().get(loginUrl(params))
  expect(res.status).toBe(302)
  return new URL(res.headers.get('location')!)
}

describe('GET /v1/login: untrusted app or return_to → 400 page, never a redirect', () => {
  const q = (over: Record<string, string | undefined>) => {
    const p = new URLSearchParams()
    for (const [k, v] of Object.entries({ app: APP.id, return_to: DEMO_RETURN, issuer: issuer(), ...over }))
      if (v !== undefined) p.set(k, v)
    return `/v1/login?${p}`
  }
  it.each([
    ['unknown app', { app: 'nobody' }],
    ['no app', { app: undefined }],
    ['no return_to', { return_to: undefined }],
    ['another app’s return URL', { return_to: 'https://other.example.test/cb' }],
    ['trailing slash', { return_to: `${DEMO_RETURN}/` }],
    ['case', { return_to: DEMO_RETURN.toUpperCase() }],
    ['host case', { return_to: 'https://APP.example.test/done' }],
    ['extra query', { return_to: `${DEMO_RETURN}?x=1` }],
    ['fragment', { return_to: `${DEMO_RETURN}#x` }],
    ['userinfo', { return_to: 'https://evil@app.example.test/done' }],
    ['other scheme', { return_to: 'http://app.example.test/done' }],
    ['explicit port', { return_to: 'https://app.example.test:443/done' }],
    ['dot segment', { return_to: 'https://app.example.test/x/../done' }],
    ['encoded path', { return_to: 'https://app.example.test/%64one' }],
    ['javascript', { return_to: 'javascript:alert(1)' }],
    ['prefix attack', { return_to: `${DEMO_RETURN}.evil.test` }],
  ])('%s', async (_name, over) => {
    await expectPage(await call(q(over)), 400, 'invalid_request')
  })

  it('return_to given twice', async () => {
    await expectPage(await call(`${q({})}&return_to=${encodeURIComponent(DEMO_RETURN)}`), 400, 'invalid_request')
  })

  it('bad percent-encoding', async () => {
    await expectPage(await call('/v1/login?app=demo&return_to=%E0%A4%A'), 400, 'invalid_request')
  })
})

describe('GET /v1/login: later failures go back to the app', () => {
  it.each([
    ['no provider', {}, 'invalid_request'],
    ['both issuer and homeserver', { issuer: issuer(), homeserver: 'hs.example' }, 'invalid_request'],
    ['bad prompt', { issuer: issuer(), prompt: 'bogus' }, 'invalid_request'],
    ['create not advertised', { issuer: issuer(), prompt: 'create' }, 'invalid_request'],
    ['unknown parameter', { issuer: issuer(), foo: 'bar' }, 'invalid_request'],
    ['bad scope', { issuer: issuer(), scope: 'a  b' }, 'invalid_request'],
    ['huge login_hint', { issuer: issuer(), login_hint: 'x'.repeat(2000) }, 'invalid_request'],
    ['discovery fails', { issuer: hostile('html') }, 'discovery_failed'],
    ['provider times out', { issuer: hostile('slow') }, 'provider_timeout'],
    ['no registration possible', { issuer: hostile('no-registration') }, 'registration_not_supported'],
    ['invalid device id', { homeserver: `${inject('hostileUrl')}/hs/v1`, device_id: 'bad device' }, 'invalid_device_id'],
  ])('%s → error=%s', async (_name, params, error) => {
    expectBackWithError(await earlyFailure(params), error)
  })

  it('prompt values the provider advertises are passed on', async () => {
    const res = await new Browser().get(loginUrl({ issuer: issuer(), prompt: 'login', login_hint: 'alice', scope: 'profile' }))
    const p = new URL(res.headers.get('location')!).searchParams
    expect([p.get('prompt'), p.get('login_hint'), p.get('scope')]).toEqual(['login', 'alice', 'openid offline_access profile'])
  })
})

describe('GET /v1/callback: state', () => {
  it('a replayed callback → 400 invalid_state page', async () => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: issuer() })
    const first = await browser.get(callback.href)
    expect(first.status).toBe(302)
    await expectPage(await browser.get(callback.href), 400, 'invalid_state')
  })

  it('two concurrent callbacks with the same state → one session', async () => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: issuer() })
    const [a, b] = await Promise.all([browser.get(callback.href), browser.get(callback.href)])
    const statuses = [a.status, b.status].sort()
    expect(statuses).toEqual([302, 400])
  })

  it('a callback in another browser (no cookie) → 400 invalid_state page', async () => {
    const callback = await untilCallback(new Browser(), { issuer: issuer() })
    await expectPage(await new Browser().get(callback.href), 400, 'invalid_state')
  })

  it('a callback with the wrong cookie → 400 invalid_state page', async () => {
    const callback = await untilCallback(new Browser(), { issuer: issuer() })
    const cookieName = (await new Browser().get(loginUrl({ issuer: issuer() }))).headers.getSetCookie()[0]!.split('=')[0]
    const res = await call(`${callback.pathname}${callback.search}`, { headers: { cookie: `${cookieName}=${'A'.repeat(43)}` } })
    await expectPage(res, 400, 'invalid_state')
  })

  it.each([
    ['a tampered state', (s: string) => s.slice(0, -3) + (s.endsWith('AAA') ? 'BBB' : 'AAA')],
    ['a forged state', () => 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['garbage', () => 'not-a-state'],
    ['a huge state', () => 'a'.repeat(20000)],
  ])('%s → 400 invalid_state page', async (_name, mutate) => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: issuer() })
    callback.searchParams.set('state', mutate(callback.searchParams.get('state')!))
    await expectPage(await browser.get(callback.href), 400, 'invalid_state')
  })

  it('no state → 400 invalid_state page', async () => {
    await expectPage(await call('/v1/callback?code=abc'), 400, 'invalid_state')
  })

  it('an expired state → 400 invalid_state page', async () => {
    const old = Math.floor(Date.now() / 1000) - 601
    const state = await sealState(
      STATE_SECRET,
      {
        txn: 'expired-txn-0123456789',
        app: APP.id,
        return_to: DEMO_RETURN,
        issuer: issuer(),
        client_id: 'x',
        redirect_uri: `${BROKER}/v1/callback`,
        code_verifier: 'v',
        nonce: 'n',
        scope: 'openid',
        binding: 'app',
      },
      old,
    )
    await expectPage(await call(`/v1/callback?code=abc&state=${state}`), 400, 'invalid_state')
  })

  it('neither code nor error → 400 invalid_callback page', async () => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: issuer() })
    callback.searchParams.delete('code')
    await expectPage(await browser.get(callback.href), 400, 'invalid_callback')
  })

  it('a parameter given twice → 400 invalid_callback page', async () => {
    await expectPage(await call('/v1/callback?state=a&state=b'), 400, 'invalid_callback')
  })
})

describe('GET /v1/callback: provider answers', () => {
  it('the user cancels → error=access_denied', async () => {
    expectBackWithError(await browserLogin({ issuer: issuer(), login_hint: 'deny' }), 'access_denied')
  })

  it('another provider error → authorization_failed with its code', async () => {
    expectBackWithError(await browserLogin({ issuer: op('authz-error') }), 'authorization_failed', /server_error/)
  })

  it.each([
    ['iss-missing', /RFC 9207/],
    ['iss-wrong', /RFC 9207/],
  ])('RFC 9207: %s → authorization_failed', async (scenario, describes) => {
    expectBackWithError(await browserLogin({ issuer: op(scenario) }), 'authorization_failed', describes)
  })

  it('RFC 9207: a wrong iss is refused even when the provider does not advertise iss', async () => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: op('no-iss-support') })
    callback.searchParams.set('iss', 'https://evil.example')
    expectBackWithError(await browser.follow(callback.href, APP_ORIGIN), 'authorization_failed', /RFC 9207/)
  })

  it('without iss support and without iss, the login works', async () => {
    const back = await browserLogin({ issuer: op('no-iss-support') })
    expect(back.searchParams.get('code')).toBeTruthy()
  })

  it('a mix-up: our issuer’s iss on another provider’s response is refused', async () => {
    const browser = new Browser()
    const callback = await untilCallback(browser, { issuer: issuer() })
    callback.searchParams.set('iss', op('ok'))
    expectBackWithError(await browser.follow(callback.href, APP_ORIGIN), 'authorization_failed', /RFC 9207/)
  })

  it('provider 5xx at the token endpoint → authorization_failed', async () => {
    const p = await lab.spawn()
    await lab.fault(p.id, { route: 'POST /token', status: 500, times: 1 })
    expectBackWithError(await browserLogin({ issuer: p.issuer }), 'authorization_failed')
  })

  it('a hung token endpoint → temporarily_unavailable', async () => {
    const p = await lab.spawn()
    await lab.fault(p.id, { route: 'POST /token', status: 500, delayMs: 3000, times: 1 })
    expectBackWithError(await browserLogin({ issuer: p.issuer }), 'temporarily_unavailable')
  })

  it.each([
    ['wrong-nonce'],
    ['no-nonce'],
    ['wrong-aud'],
    ['extra-aud-no-azp'],
    ['wrong-iss'],
    ['expired'],
    ['iat-future'],
    ['bad-signature'],
    ['unknown-kid'],
    ['alg-none'],
    ['hs256-pubkey'],
    ['jwks-not-json'],
    ['no-id-token'],
    ['no-access-token'],
    ['no-token-type'],
    ['token-type-mac'],
    ['expires-negative'],
    ['expires-absurd'],
    ['token-html'],
    ['token-500'],
  ])('ID token / token response %s → authorization_failed, no code', async (scenario) => {
    expectBackWithError(await browserLogin({ issuer: op(scenario) }), 'authorization_failed')
  })

  it('a provider advertising alg none still gets only signed tokens accepted', async () => {
    // its tokens are RS256-signed and pass; `none` is filtered out of the allowed algorithms
    expect((await browserLogin({ issuer: op('advertises-none') })).searchParams.get('code')).toBeTruthy()
  })

  it('an unknown kid triggers one JWKS refetch, not more', async () => {
    const counts = async () =>
      (await (await fetch(`${op('unknown-kid')}/__counts`)).json<Record<string, number>>())['unknown-kid GET /jwks'] ?? 0
    const before = await counts()
    await browserLogin({ issuer: op('unknown-kid') })
    expect((await counts()) - before).toBeLessThanOrEqual(2)
  })

  it('a good minted token works (the mint provider is honest by default)', async () => {
    const back = await browserLogin({ issuer: op('ok') })
    expect(back.searchParams.get('code')).toBeTruthy()
    expect((await redeem(back.searchParams.get('code')!)).status).toBe(201)
  })
})

describe('POST /v1/sessions', () => {
  async function freshCode() {
    return (await browserLogin({ issuer: issuer() })).searchParams.get('code')!
  }

  it('a replayed code → 400 invalid_grant, and the session it made is ended (tokens revoked)', async () => {
    const code = await freshCode()
    const first = await (await redeem(code)).json<{ access_token: string }>()
    await expectError(await redeem(code), 400, 'invalid_grant')
    const introspected = await (
      await fetch(`${inject('labUrl')}/providers/0/introspect`, { method: 'POST', body: first.access_token })
    ).json()
    expect(introspected).toMatchObject({ active: false })
  })

  it('another app’s code → 400 invalid_grant; the right app can still redeem it', async () => {
    const code = await freshCode()
    await expectError(await redeem(code, OTHER_APP), 400, 'invalid_grant')
    expect((await redeem(code)).status).toBe(201)
  })

  it('an expired code → 400 invalid_grant', async () => {
    const code = await freshCode()
    const id = env.SESSION.idFromString(code.split('.')[0]!)
    await runInDurableObject(env.SESSION.get(id), async (_o, state) => {
      const r = state.storage.kv.get<{ code: { expires_at: number } }>('session')!
      r.code.expires_at = Math.floor(Date.now() / 1000) - 1
      state.storage.kv.put('session', r)
    })
    // the object caches its record; a new instance would read storage — reload it
    await runInDurableObject(env.SESSION.get(id), async (o) => {
      ;(o as unknown as { migrate(): void }).migrate()
    })
    await expectError(await redeem(code), 400, 'invalid_grant')
  })

  it.each([
    ['unknown code', `${'a'.repeat(64)}.${'b'.repeat(43)}`],
    ['malformed code', 'nope'],
    ['wrong secret', null],
    ['huge code', 'x'.repeat(600)],
  ])('%s → 400 invalid_grant (or invalid_request)', async (name, code) => {
    const c = code ?? `${(await freshCode()).split('.')[0]}.${'c'.repeat(43)}`
    const res = await redeem(c)
    await expectError(res, 400, name === 'huge code' ? 'invalid_request' : 'invalid_grant')
  })

  it.each([
    ['no auth', {}],
    ['wrong app secret', { authorization: basic({ id: APP.id, secret: 'nope' }) }],
  ])('%s → 401 invalid_app', async (_n, headers) => {
    await expectError(await postJson('/v1/sessions', { code: 'x' }, headers), 401, 'invalid_app')
  })

  it('body errors', async () => {
    await expectError(await postJson('/v1/sessions', { code: 5 }, { authorization: basic(APP) }), 400, 'invalid_request')
    await expectError(
      await call('/v1/sessions', { method: 'POST', headers: { authorization: basic(APP) }, body: 'code=x' }),
      415,
      'unsupported_media_type',
    )
  })
})

describe('POST /v1/login errors', () => {
  it.each([
    ['return_to not the app’s', { issuer: issuer(), return_to: 'https://evil.example/cb' }, 400, 'invalid_request'],
    ['no return_to', { issuer: issuer() }, 400, 'invalid_request'],
    ['bad prompt', { issuer: issuer(), return_to: DEMO_RETURN, prompt: 'x' }, 400, 'invalid_request'],
    ['discovery fails', { issuer: hostile('html'), return_to: DEMO_RETURN }, 502, 'discovery_failed'],
  ])('%s → %i %s', async (_n, body, status, code) => {
    await expectError(await postJson('/v1/login', body, { authorization: basic(APP) }), status, code)
  })
  it('no app auth → 401', async () => {
    await expectError(await postJson('/v1/login', { issuer: issuer(), return_to: DEMO_RETURN }), 401, 'invalid_app')
  })
})
