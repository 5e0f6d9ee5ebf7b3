import { exports } from 'cloudflare:workers'
import { describe, expect, it, inject } from 'vitest'
import { APP, DEMO_RETURN, OTHER_APP } from '../constants'
import { basic, BROKER, bearer, call, expectError, introspect, issuer, lab, postJson } from '../helpers'
import { APP_ORIGIN, Browser, newSession, untilCallback } from '../browser'

const logout = (handle: string, body?: unknown) =>
  call('/v1/session/logout', {
    method: 'POST',
    headers: { ...bearer(handle), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })

async function openEvents(handle: string) {
  const res = await exports.default.fetch(
    new Request(`${BROKER}/v1/session/events`, { headers: { upgrade: 'websocket', ...bearer(handle) } }),
  )
  expect(res.status).toBe(101)
  const ws = res.webSocket!
  ws.accept()
  const messages: Record<string, unknown>[] = []
  let closed = false
  ws.addEventListener('message', (e) => messages.push(JSON.parse(e.data as string)))
  ws.addEventListener('close', () => (closed = true))
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10))
  }
  return { ws, messages, until, closed: () => closed }
}

describe('POST /v1/session/logout', () => {
  it('revokes both tokens at the provider, ends the session for good, gives the end-session URL', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const rt = (await (await call('/v1/session', { headers: bearer(s.session) })).json<{ state: string }>()).state
    expect(rt).toBe('active')
    const res = await logout(s.session, { post_logout_redirect_uri: DEMO_RETURN, state: 'bye' })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json<{ revoked: Record<string, boolean>; end_session_url: string }>()
    expect(body.revoked).toEqual({ access_token: true, refresh_token: true })
    const url = new URL(body.end_session_url)
    expect(url.origin + url.pathname).toBe(`${p.issuer}/session/end`)
    expect(url.searchParams.get('id_token_hint')).toMatch(/^ey/)
    expect(url.searchParams.get('client_id')).toBeTruthy()
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(DEMO_RETURN)
    expect(url.searchParams.get('state')).toBe('bye')
    expect(await introspect(p.id, s.access_token)).toMatchObject({ active: false })
    // The handle is dead, whatever route.
    await expectError(await call('/v1/session', { headers: bearer(s.session) }), 401, 'invalid_session')
    await expectError(await call('/v1/session/token', { method: 'POST', headers: bearer(s.session) }), 401, 'invalid_session')
    await expectError(await logout(s.session), 401, 'invalid_session')
  })

  it('the refresh token is revoked too (provider side)', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const { env } = await import('cloudflare:workers')
    const { runInDurableObject } = await import('cloudflare:test')
    const rt = await runInDurableObject(env.SESSION.get(env.SESSION.idFromString(s.session_id)), async (o) => {
      const obj = o as unknown as { record: { tokens: { refresh_token: string } }; open(v: string, w: string): Promise<string> }
      return obj.open(obj.record.tokens.refresh_token, 'refresh_token')
    })
    await logout(s.session)
    expect(await introspect(p.id, rt)).toMatchObject({ active: false })
  })

  it('a post_logout_redirect_uri that is not the app’s → 400, and the session lives on', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(await logout(s.session, { post_logout_redirect_uri: 'https://evil.example/' }), 400, 'invalid_request')
    expect((await call('/v1/session', { headers: bearer(s.session) })).status).toBe(200)
  })

  it('the provider down during logout → ended locally, the body says what was not revoked', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    await lab.fault(p.id, { route: 'POST /token/revocation', status: 503 })
    const body = await (await logout(s.session)).json<{ revoked: Record<string, boolean> }>()
    expect(body.revoked).toEqual({ access_token: false, refresh_token: false })
    await expectError(await call('/v1/session', { headers: bearer(s.session) }), 401, 'invalid_session')
  })

  it('a provider without a revocation endpoint → ended locally, revoked false', async () => {
    const s = await newSession({ issuer: `${inject('hostileUrl')}/op/no-revocation` })
    const body = await (await logout(s.session)).json<{ revoked: Record<string, boolean>; end_session_url?: string }>()
    expect(body).toEqual({ revoked: { access_token: false, refresh_token: false } })
  })

  it('bad body → 400', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(await postJson('/v1/session/logout', { nope: 1 }, bearer(s.session)), 400, 'invalid_request')
  })
})

describe('GET /v1/session/events', () => {
  it('tokens_refreshed on refresh, logged_out on logout', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    const ev = await openEvents(s.session)
    const refreshed = await (
      await call('/v1/session/refresh', { method: 'POST', headers: bearer(s.session) })
    ).json<{ expires_at: number }>()
    await ev.until(() => ev.messages.length >= 1)
    expect(ev.messages[0]).toEqual({ type: 'tokens_refreshed', expires_at: refreshed.expires_at })
    await logout(s.session)
    await ev.until(() => ev.messages.length >= 2)
    expect(ev.messages[1]).toEqual({ type: 'logged_out' })
    await ev.until(ev.closed)
    expect(ev.closed()).toBe(true)
  })

  it('answers ping', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    const ev = await openEvents(s.session)
    ev.ws.send('ping')
    await ev.until(() => ev.messages.length >= 1)
    expect(ev.messages[0]).toEqual({ type: 'pong' })
  })

  it('the handle is checked at upgrade; a browser may send it as a subprotocol', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    const bad = await exports.default.fetch(
      new Request(`${BROKER}/v1/session/events`, { headers: { upgrade: 'websocket', ...bearer(`${s.session_id}.${'A'.repeat(43)}`) } }),
    )
    await expectError(bad, 401, 'invalid_session')
    const ok = await exports.default.fetch(
      new Request(`${BROKER}/v1/session/events`, {
        headers: { upgrade: 'websocket', 'sec-websocket-protocol': `broker, session.${s.session}` },
      }),
    )
    expect(ok.status).toBe(101)
    expect(ok.headers.get('sec-websocket-protocol')).toBe('broker')
    ok.webSocket!.accept()
    ok.webSocket!.close()
  })

  it('without Upgrade → 400', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(await call('/v1/session/events', { headers: bearer(s.session) }), 400, 'invalid_request')
  })
})

describe('GET /v1/session/account', () => {
  it('the provider’s account page with an MSC4191 action and id_token_hint', async () => {
    const p = await lab.spawn()
    const s = await newSession({ issuer: p.issuer })
    const res = await call('/v1/session/account?action=org.matrix.session_view&device_id=DEV1', { headers: bearer(s.session) })
    expect(res.status).toBe(200)
    const url = new URL((await res.json<{ url: string }>()).url)
    expect(url.origin + url.pathname).toBe(`${p.issuer}/account`)
    expect(url.searchParams.get('action')).toBe('org.matrix.session_view')
    expect(url.searchParams.get('device_id')).toBe('DEV1')
    expect(url.searchParams.get('id_token_hint')).toMatch(/^ey/)
  })

  it('an action the provider does not list → 400', async () => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(
      await call('/v1/session/account?action=org.matrix.cross_signing_reset', { headers: bearer(s.session) }),
      400,
      'invalid_request',
    )
    await expectError(await call('/v1/session/account?action=%3Cx%3E', { headers: bearer(s.session) }), 400, 'invalid_request')
  })

  it('no account management at the provider → 404 not_supported', async () => {
    const s = await newSession({ issuer: `${inject('hostileUrl')}/op/ok` })
    await expectError(await call('/v1/session/account', { headers: bearer(s.session) }), 404, 'not_supported')
  })
})

describe('POST /v1/session/scope', () => {
  it('authorizes extra scopes into the same session', async () => {
    const p = await lab.spawn()
    const browser = new Browser()
    const { browserLogin, redeem } = await import('../browser')
    const back = await browserLogin({ issuer: p.issuer }, browser)
    const s = await (await redeem(back.searchParams.get('code')!)).json<{ session: string; access_token: string; scope: string }>()
    expect(s.scope).not.toContain('email')
    const res = await postJson('/v1/session/scope', { scope: 'email', return_to: DEMO_RETURN, state: 'more' }, bearer(s.session))
    expect(res.status).toBe(200)
    const { url } = await res.json<{ url: string }>()
    const after = await browser.follow(url, APP_ORIGIN)
    expect(after.searchParams.get('state')).toBe('more')
    expect(after.searchParams.get('error')).toBeNull()
    expect(after.searchParams.get('scope')).toContain('email')
    const info = await (await call('/v1/session', { headers: bearer(s.session) })).json<{ scope: string }>()
    expect(info.scope.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']))
    const tok = await (await call('/v1/session/token', { method: 'POST', headers: bearer(s.session) })).json<{ access_token: string }>()
    expect(tok.access_token).not.toBe(s.access_token)
  })

  it('the scope callback completes once', async () => {
    const p = await lab.spawn()
    const browser = new Browser()
    const { browserLogin, redeem } = await import('../browser')
    const back = await browserLogin({ issuer: p.issuer }, browser)
    const s = await (await redeem(back.searchParams.get('code')!)).json<{ session: string }>()
    const { url } = await (
      await postJson('/v1/session/scope', { scope: 'email', return_to: DEMO_RETURN }, bearer(s.session))
    ).json<{ url: string }>()
    // Drive to the broker's callback, then use it twice.
    let next = url
    for (let i = 0; i < 20 && new URL(next).origin !== BROKER; i++) {
      const r = await browser.get(next)
      next = new URL(r.headers.get('location')!, next).href
    }
    expect((await browser.get(next)).status).toBe(302)
    const replay = await browser.get(next)
    expect(replay.status).toBe(400)
  })

  it.each([
    ['return_to not the app’s', { scope: 'email', return_to: 'https://evil.example/' }],
    ['bad scope', { scope: 'a\tb', return_to: DEMO_RETURN }],
    ['no scope', { return_to: DEMO_RETURN }],
  ])('%s → 400', async (_n, body) => {
    const s = await newSession({ issuer: (await lab.spawn()).issuer })
    await expectError(await postJson('/v1/session/scope', body, bearer(s.session)), 400, 'invalid_request')
  })
})

describe('POST /v1/sessions/import', () => {
  async function tokensFromElsewhere(iss: string) {
    const s = await newSession({ issuer: iss })
    const { env } = await import('cloudflare:workers')
    const { runInDurableObject } = await import('cloudflare:test')
    return runInDurableObject(env.SESSION.get(env.SESSION.idFromString(s.session_id)), async (o) => {
      const obj = o as unknown as {
        record: { client: { client_id: string }; tokens: { refresh_token: string; id_token: string } }
        open(v: string, w: string): Promise<string>
      }
      return {
        client_id: obj.record.client.client_id,
        tokens: {
          access_token: s.access_token,
          refresh_token: await obj.open(obj.record.tokens.refresh_token, 'refresh_token'),
          id_token: await obj.open(obj.record.tokens.id_token, 'id_token'),
          ...(s.expires_at ? { expires_at: s.expires_at } : {}),
        },
      }
    })
  }
  const importing = (body: unknown, app = APP) => postJson('/v1/sessions/import', body, { authorization: basic(app) })

  it('adopts checked tokens as a normal session that can refresh', async () => {
    const p = await lab.spawn()
    const { client_id, tokens } = await tokensFromElsewhere(p.issuer)
    const res = await importing({ issuer: p.issuer, client_id, tokens, scope: 'openid offline_access' })
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const s = await res.json<{ session: string; user: unknown; access_token: string }>()
    expect(s.user).toEqual({ sub: 'alice' })
    expect(s.access_token).toBe(tokens.access_token)
    const fresh = await (await call('/v1/session/refresh', { method: 'POST', headers: bearer(s.session) })).json<{ access_token: string }>()
    expect(fresh.access_token).not.toBe(tokens.access_token)
    expect(await introspect(p.id, fresh.access_token)).toMatchObject({ active: true })
  })

  it.each([
    [
      'a rejected access token',
      (t: { tokens: Record<string, string> }) => ({ ...t, tokens: { ...t.tokens, access_token: 'not-a-token' } }),
      400,
      'invalid_grant',
    ],
    ['another client_id', (t: Record<string, unknown>) => ({ ...t, client_id: 'someone-else' }), 400, 'invalid_request'],
    [
      'an id_token of another issuer',
      (t: { tokens: Record<string, string> }) => ({
        ...t,
        tokens: { ...t.tokens, id_token: 'eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2V2aWwifQ.' },
      }),
      400,
      'invalid_request',
    ],
    [
      'no refresh token',
      (t: { tokens: Record<string, string> }) => ({ ...t, tokens: { access_token: t.tokens.access_token } }),
      400,
      'invalid_request',
    ],
    ['no provider', (t: Record<string, unknown>) => ({ client_id: t.client_id, tokens: t.tokens }), 400, 'invalid_request'],
  ])('%s → %i %s', async (_n, mutate, status, code) => {
    const p = await lab.spawn()
    const t = { issuer: p.issuer, ...(await tokensFromElsewhere(p.issuer)) }
    await expectError(await importing(mutate(t as never)), status, code)
  })

  it('needs app auth', async () => {
    await expectError(await postJson('/v1/sessions/import', { issuer: issuer() }), 401, 'invalid_app')
  })

  it('the other app cannot import with this app’s registration', async () => {
    const p = await lab.spawn()
    const t = await tokensFromElsewhere(p.issuer)
    await expectError(await importing({ issuer: p.issuer, ...t }, OTHER_APP), 400, 'invalid_request')
  })
})

export { untilCallback }
