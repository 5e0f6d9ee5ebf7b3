// The hostile-provider suite (modelled on the OpenID Foundation's RP conformance tests): each
// broken answer is refused with the contract's error, and the broker keeps no token from it.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, inject } from 'vitest'
import { openState } from '../../src/login/state'
import { STATE_SECRET } from '../constants'
import { bearer, call } from '../helpers'
import { APP_ORIGIN, Browser, newSession, untilCallback } from '../browser'

const op = (scenario: string) => `${inject('hostileUrl')}/op/${scenario}`

/** Logs in at a scenario; returns the redirect back to the app and what the Session object kept. */
async function attempt(scenario: string) {
  const browser = new Browser()
  const callback = await untilCallback(browser, { issuer: op(scenario) })
  const { txn } = await openState(STATE_SECRET, callback.searchParams.get('state')!)
  const back = await browser.follow(callback.href, APP_ORIGIN)
  const kept = await runInDurableObject(env.SESSION.get(env.SESSION.idFromName(txn)), async (_o, state) =>
    state.storage.kv.get<{ state: string; tokens?: unknown }>('session'),
  )
  return { back, kept }
}

describe('hostile provider: the login is refused and nothing is kept', () => {
  it.each([
    ['wrong-iss', 'authorization_failed'],
    ['wrong-aud', 'authorization_failed'],
    ['extra-aud-no-azp', 'authorization_failed'],
    ['wrong-nonce', 'authorization_failed'],
    ['no-nonce', 'authorization_failed'],
    ['expired', 'authorization_failed'],
    ['iat-future', 'authorization_failed'],
    ['bad-signature', 'authorization_failed'],
    ['alg-none', 'authorization_failed'],
    ['hs256-pubkey', 'authorization_failed'],
    ['unknown-kid', 'authorization_failed'],
    ['jwks-not-json', 'authorization_failed'],
    ['no-access-token', 'authorization_failed'],
    ['no-token-type', 'authorization_failed'],
    ['token-type-mac', 'authorization_failed'],
    ['expires-negative', 'authorization_failed'],
    ['expires-absurd', 'authorization_failed'],
    ['token-html', 'authorization_failed'],
    ['token-huge', 'authorization_failed'],
    ['token-redirect', 'authorization_failed'],
    ['token-drip', 'temporarily_unavailable'],
  ])('%s → error=%s', async (scenario, error) => {
    const { back, kept } = await attempt(scenario)
    expect(back.searchParams.get('error')).toBe(error)
    expect(back.searchParams.get('code')).toBeNull()
    expect(kept?.state).toBe('failed')
    expect(kept?.tokens).toBeUndefined()
  })

  it('a good answer from the same provider is kept (the harness can tell them apart)', async () => {
    const { back, kept } = await attempt('ok')
    expect(back.searchParams.get('code')).toBeTruthy()
    expect(kept?.state).toBe('active')
    expect(kept?.tokens).toBeDefined()
  })
})

describe('hostile provider: refresh', () => {
  it('a refresh answer without a refresh token keeps the old one', async () => {
    const s = await newSession({ issuer: op('ok') })
    const stub = env.SESSION.get(env.SESSION.idFromString(s.session_id))
    const before = await runInDurableObject(
      stub,
      (_o, st) => st.storage.kv.get<{ tokens: { refresh_token: string } }>('session')!.tokens.refresh_token,
    )
    const res = await call('/v1/session/refresh', { method: 'POST', headers: bearer(s.session) })
    expect(res.status).toBe(200)
    const after = await runInDurableObject(
      stub,
      (_o, st) => st.storage.kv.get<{ tokens: { refresh_token: string } }>('session')!.tokens.refresh_token,
    )
    expect(after).toBe(before)
    // and it still works the next time
    expect((await call('/v1/session/refresh', { method: 'POST', headers: bearer(s.session) })).status).toBe(200)
  })
})
