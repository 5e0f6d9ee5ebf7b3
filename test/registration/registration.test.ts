import { env } from 'cloudflare:workers'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config'
import type { Runtime } from '../../src/config/runtime'
import { discoverIssuer, oauthOptions } from '../../src/discovery/discover'
import { clientOf, withClient } from '../../src/registration/service'
import { APP, OTHER_APP, RESTRICTED_APP } from '../constants'
import { basic, call, expectError, homeserver, hostile, issuer, lab, postJson } from '../helpers'

const register = (body: unknown, app = APP, origin?: string) =>
  call('/v1/registrations', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(app), ...(origin ? {} : {}) },
    body: JSON.stringify(body),
  }).then((r) => r)

async function registerAt(base: string, body: unknown, app = APP) {
  const { exports } = await import('cloudflare:workers')
  return exports.default.fetch(
    new Request(`${base}/v1/registrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(app) },
      body: JSON.stringify(body),
    }),
  )
}

describe('POST /v1/registrations', () => {
  it('registers once per issuer and app, then serves the cached registration', async () => {
    const p = await lab.spawn()
    const first = await register({ issuer: p.issuer })
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('no-store')
    const a = await first.json<{ issuer: string; client_id: string; source: string }>()
    expect(a).toEqual({ issuer: p.issuer, client_id: expect.any(String), source: 'registered' })
    const second = await (await register({ issuer: p.issuer })).json()
    expect(second).toEqual({ ...a, source: 'cached' })
    expect((await lab.counts(p.id))['POST /reg']).toBe(1)

    // What the provider holds is what the contract asks for.
    const client = await lab.client(p.id, a.client_id)
    expect(client).toMatchObject({
      application_type: 'web',
      client_name: 'Demo App',
      client_uri: 'https://app.example.test',
      logo_uri: 'https://app.example.test/logo.png',
      redirect_uris: ['https://broker.test/v1/callback'],
      // oidc-provider offers the device flow (RFC 8628), so the broker registers for it too
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      contacts: ['ops@app.example.test'],
    })
  })

  it('20 simultaneous first registrations → exactly one reaches the provider', async () => {
    const p = await lab.spawn()
    const all = await Promise.all(Array.from({ length: 20 }, () => register({ issuer: p.issuer })))
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200))
    const ids = new Set(await Promise.all(all.map(async (r) => (await r.json<{ client_id: string }>()).client_id)))
    expect(ids.size).toBe(1)
    expect((await lab.counts(p.id))['POST /reg']).toBe(1)
  })

  it('a change of client metadata (another app, another broker origin) registers again', async () => {
    const p = await lab.spawn()
    const a = await (await register({ issuer: p.issuer })).json<{ client_id: string }>()
    const b = await (await register({ issuer: p.issuer }, OTHER_APP)).json<{ client_id: string; source: string }>()
    const c = await (await registerAt('https://other-broker.test', { issuer: p.issuer })).json<{ client_id: string; source: string }>()
    expect(b.source).toBe('registered')
    expect(c.source).toBe('registered')
    expect(new Set([a.client_id, b.client_id, c.client_id]).size).toBe(3)
    expect((await lab.counts(p.id))['POST /reg']).toBe(3)
    expect(await lab.client(p.id, c.client_id)).toMatchObject({ redirect_uris: ['https://other-broker.test/v1/callback'] })
  })

  it('keeps the client secret encrypted in KV', async () => {
    const p = await lab.spawn()
    const { client_id } = await (await register({ issuer: p.issuer })).json<{ client_id: string }>()
    const secret = (await lab.client(p.id, client_id))?.client_secret as string
    expect(secret).toBeTruthy()
    const keys = (await env.CACHE.list({ prefix: 'registration:' })).keys
    const raws = await Promise.all(keys.map((k) => env.CACHE.get(k.name)))
    const mine = raws.find((r) => r?.includes(client_id))
    expect(mine).toBeDefined()
    expect(mine).not.toContain(secret)
    expect(mine).toMatch(/"client_secret_sealed":"e\.k2\./)
  })

  it('static credentials win', async () => {
    const res = await register({ issuer: hostile('static-only') })
    expect(await res.json()).toEqual({ issuer: hostile('static-only'), client_id: 'static-client', source: 'static' })
  })

  it('registers through a homeserver with the Matrix client-registration rules', async () => {
    const res = await register({ homeserver: homeserver('v1') })
    expect(res.status).toBe(200)
    const { client_id } = await res.json<{ client_id: string }>()
    const client = await lab.client(0, client_id)
    expect(client).toMatchObject({ client_uri: 'https://broker.test/apps/demo', redirect_uris: ['https://broker.test/v1/callback'] })
    // The app's own URIs are on another host, which a Matrix server would refuse: left out.
    expect(client?.logo_uri).toBeUndefined()
    expect(client?.policy_uri).toBeUndefined()
    // And the client_uri page exists.
    const page = await call('/apps/demo')
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Demo App')
  })

  it('drops a registration the provider no longer accepts and registers again, once', async () => {
    const p = await lab.spawn()
    const rt: Runtime = { env, config: loadConfig(env), waitUntil: () => {} }
    const app = rt.config.apps.get(APP.id)!
    const d = await discoverIssuer(rt, p.issuer)
    const first = await (await register({ issuer: p.issuer })).json<{ client_id: string }>()
    await lab.fault(p.id, { route: 'POST /token/revocation', status: 401, body: JSON.stringify({ error: 'invalid_client' }), times: 1 })
    const used: string[] = []
    await withClient(rt, app, d, 'https://broker.test', async (reg) => {
      used.push(reg.client_id)
      const { client, auth } = clientOf(reg)
      const res = await oauth.revocationRequest(d.metadata as oauth.AuthorizationServer, client, auth, 'some-token', oauthOptions(rt))
      await oauth.processRevocationResponse(res)
    })
    expect(used).toHaveLength(2)
    expect(used[0]).toBe(first.client_id)
    expect(used[1]).not.toBe(first.client_id)
    expect((await lab.counts(p.id))['POST /reg']).toBe(2)
    expect((await (await register({ issuer: p.issuer })).json<{ client_id: string }>()).client_id).toBe(used[1])
  })
})

describe('POST /v1/registrations errors', () => {
  const ok = () => ({ issuer: issuer() })
  it.each([
    ['no Authorization', undefined],
    ['Bearer instead of Basic', 'Bearer abc'],
    ['unknown app', basic({ id: 'nobody', secret: 'x' })],
    ['wrong secret', basic({ id: APP.id, secret: 'wrong' })],
    ['empty secret', basic({ id: APP.id, secret: '' })],
    ['no colon', `Basic ${btoa('demo')}`],
    ['not base64', 'Basic !!!'],
    ['not UTF-8', `Basic ${btoa('demo:\xff\xfe')}`],
    ['huge header', `Basic ${'A'.repeat(5000)}`],
  ])('%s → 401 invalid_app', async (_name, authorization) => {
    const res = await call('/v1/registrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(ok()),
    })
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /)
    await expectError(res, 401, 'invalid_app')
  })

  it.each([
    ['not JSON', '{"issuer":', 'application/json', 400, 'invalid_request'],
    ['JSON array', '[]', 'application/json', 400, 'invalid_request'],
    ['no target', '{}', 'application/json', 400, 'invalid_request'],
    ['both targets', JSON.stringify({ issuer: 'https://a.example', homeserver: 'b.example' }), 'application/json', 400, 'invalid_request'],
    ['extra field', JSON.stringify({ issuer: 'https://a.example', x: 1 }), 'application/json', 400, 'invalid_request'],
    ['issuer a number', JSON.stringify({ issuer: 5 }), 'application/json', 400, 'invalid_request'],
    ['deep JSON', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'application/json', 400, 'invalid_request'],
    ['form body', 'issuer=https://a.example', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
    ['1 MB body', JSON.stringify({ issuer: 'https://a.example', pad: 'x'.repeat(1 << 20) }), 'application/json', 413, 'payload_too_large'],
  ])('%s → %i %s', async (_name, body, type, status, code) => {
    const res = await call('/v1/registrations', { method: 'POST', headers: { 'content-type': type, authorization: basic(APP) }, body })
    await expectError(res, status, code)
  })

  it('an app limited to some issuers cannot register elsewhere', async () => {
    await expectError(await register({ issuer: hostile('ok') }, RESTRICTED_APP), 400, 'invalid_request', /not allowed/)
    await expectError(await register({ homeserver: homeserver('v1') }, RESTRICTED_APP), 400, 'invalid_request', /not allowed/)
    expect((await register({ issuer: issuer() }, RESTRICTED_APP)).status).toBe(200)
  })

  it.each([
    ['no-registration', 502, 'registration_not_supported', /STATIC_REGISTRATIONS/],
    ['reg-error', 502, 'registration_failed', /invalid_client_metadata/],
    ['reg-html', 502, 'registration_failed', /could not be used|unexpected HTTP status|not JSON/],
    ['only-private-key-jwt', 502, 'registration_failed', /client authentication/],
    ['html', 502, 'discovery_failed', /not JSON/],
    ['slow', 504, 'provider_timeout', /did not answer/],
  ])('provider %s → %i %s', async (scenario, status, code, describes) => {
    await expectError(await register({ issuer: hostile(scenario) }), status, code, describes)
  })

  it('a provider failing the registration with 5xx → 502 registration_failed, and a later try works', async () => {
    const p = await lab.spawn()
    await lab.fault(p.id, { route: 'POST /reg', status: 503, times: 1 })
    await expectError(await register({ issuer: p.issuer }), 502, 'registration_failed')
    expect((await register({ issuer: p.issuer })).status).toBe(200)
  })

  it('wrong method → 405', async () => {
    await expectError(await call('/v1/registrations'), 405, 'method_not_allowed')
  })

  it('postJson helper sends JSON', async () => {
    expect((await postJson('/v1/registrations', ok(), { authorization: basic(APP) })).status).toBe(200)
  })
})
