import { describe, expect, it } from 'vitest'
import { APP, DEMO_RETURN } from '../constants'
import { basic, BROKER, issuer, postJson } from '../helpers'
import { Browser, browserLogin, loginUrl, redeem } from '../browser'

describe('login happy path', () => {
  it('redirects to the provider with PKCE S256, state and nonce, and a bound cookie', async () => {
    const browser = new Browser()
    const res = await browser.get(loginUrl({ issuer: issuer() }))
    expect(res.status).toBe(302)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const url = new URL(res.headers.get('location')!)
    expect(url.origin + url.pathname).toBe(`${issuer()}/auth`)
    const p = url.searchParams
    expect(p.get('response_type')).toBe('code')
    expect(p.get('code_challenge_method')).toBe('S256')
    expect(p.get('code_challenge')).toMatch(/^[\w-]{43}$/)
    expect(p.get('nonce')).toMatch(/^[\w-]{43}$/)
    expect(p.get('redirect_uri')).toBe(`${BROKER}/v1/callback`)
    expect(p.get('scope')).toBe('openid offline_access')
    expect(p.get('state')!.split('.')).toHaveLength(5) // a JWE
    const cookie = res.headers.getSetCookie()[0]!
    expect(cookie).toMatch(/^__Host-broker-login-[\w-]{12}=[\w-]{43}; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
  })

  it('completes the flow and the app gets a working session', async () => {
    const back = await browserLogin({ issuer: issuer() })
    expect(back.origin + back.pathname).toBe(DEMO_RETURN)
    expect(back.searchParams.get('state')).toBe('app-state-1')
    const code = back.searchParams.get('code')!
    expect(code).toMatch(/^[0-9a-f]{64}\.[\w-]{43}$/)
    const res = await redeem(code)
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const s = await res.json<Record<string, unknown>>()
    expect(s).toEqual({
      session: expect.stringMatching(/^[0-9a-f]{64}\.[\w-]{43}$/),
      session_id: code.split('.')[0],
      issuer: issuer(),
      user: { sub: 'alice' },
      scope: expect.stringContaining('openid'),
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_at: expect.any(Number),
    })
    // The token works at the provider.
    const me = await fetch(`${issuer()}/me`, { headers: { authorization: `Bearer ${s.access_token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ sub: 'alice' })
  })

  it('POST /v1/login gives a URL an app opens itself; no cookie needed', async () => {
    const res = await postJson('/v1/login', { issuer: issuer(), return_to: DEMO_RETURN, state: 's2' }, { authorization: basic(APP) })
    expect(res.status).toBe(200)
    const body = await res.json<{ url: string; expires_at: number }>()
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'url'])
    expect(body.expires_at - Date.now() / 1000).toBeGreaterThan(590)
    const back = await new Browser().follow(body.url, new URL(DEMO_RETURN).origin)
    expect(back.searchParams.get('state')).toBe('s2')
    expect((await redeem(back.searchParams.get('code')!)).status).toBe(201)
  })
})
