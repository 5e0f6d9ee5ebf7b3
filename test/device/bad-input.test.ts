import { describe, expect, it } from 'vitest'
import { inject } from 'vitest'
import { APP, RESTRICTED_APP } from '../constants'
import { basic, call, expectError, issuer, lab, postJson } from '../helpers'
import { pollDevice, started, startDevice } from './helpers'

const auth = { authorization: basic(APP) }
const op = (scenario: string) => `${inject('hostileUrl')}/op/${scenario}`

describe('POST /v1/device: bad input → the whole error response', () => {
  it.each<[string, () => Promise<Response>, number, string, RegExp?]>([
    ['no app credentials', () => postJson('/v1/device', { issuer: issuer() }), 401, 'invalid_app'],
    [
      'a wrong app secret',
      () => postJson('/v1/device', { issuer: issuer() }, { authorization: basic({ id: APP.id, secret: 'wrong' }) }),
      401,
      'invalid_app',
    ],
    [
      'not JSON',
      () => call('/v1/device', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"issuer":' }),
      400,
      'invalid_request',
      /JSON/,
    ],
    [
      'a form body',
      () =>
        call('/v1/device', { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'issuer=x' }),
      415,
      'unsupported_media_type',
    ],
    ['neither issuer nor homeserver', () => postJson('/v1/device', {}, auth), 400, 'invalid_request', /exactly one/],
    [
      'both issuer and homeserver',
      () => postJson('/v1/device', { issuer: issuer(), homeserver: 'example.org' }, auth),
      400,
      'invalid_request',
      /exactly one/,
    ],
    ['an unknown field', () => postJson('/v1/device', { issuer: issuer(), return_to: 'https://x.test' }, auth), 400, 'invalid_request'],
    ['an issuer that is not a URL', () => postJson('/v1/device', { issuer: 'not a url' }, auth), 400, 'invalid_request', /issuer/],
    ['an issuer with a query', () => postJson('/v1/device', { issuer: `${issuer()}?x=1` }, auth), 400, 'invalid_request', /issuer/],
    [
      'a scope with bad characters',
      () => postJson('/v1/device', { issuer: issuer(), scope: 'openid "quoted"' }, auth),
      400,
      'invalid_request',
      /scope/,
    ],
    [
      'a device_id outside the unreserved characters',
      () => postJson('/v1/device', { issuer: issuer(), device_id: 'a b/c' }, auth),
      400,
      'invalid_device_id',
    ],
    [
      'a device_id that is not a string',
      () => postJson('/v1/device', { issuer: issuer(), device_id: 42 }, auth),
      400,
      'invalid_request',
      /device_id/,
    ],
    [
      'an issuer this app may not use',
      () => postJson('/v1/device', { issuer: op('plain') }, { authorization: basic(RESTRICTED_APP) }),
      400,
      'invalid_request',
      /not allowed/,
    ],
    [
      'a provider without a device authorization endpoint',
      () => postJson('/v1/device', { issuer: op('plain') }, auth),
      404,
      'not_supported',
      /device authorization/,
    ],
    ['a body over 64 KiB', () => postJson('/v1/device', { issuer: issuer(), scope: 'a'.repeat(70_000) }, auth), 413, 'payload_too_large'],
    ['GET', () => call('/v1/device', { headers: auth }), 405, 'method_not_allowed'],
  ])('%s', async (_name, send, status, code, describes) => {
    const res = await send()
    if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Basic /)
    await expectError(res, status, code, describes)
  })
})

describe('POST /v1/device: the provider misbehaves', () => {
  const fakeAnswer = (patch: Record<string, unknown>) => ({
    route: 'POST /device/auth',
    status: 200,
    body: JSON.stringify({
      device_code: 'provider-code',
      user_code: 'ABCD-EFGH',
      verification_uri: 'http://127.0.0.1:1/device',
      expires_in: 600,
      ...patch,
    }),
    times: 1,
  })

  it.each<[string, Record<string, unknown>, number, string, RegExp]>([
    [
      'refuses the request',
      { status: 400, body: JSON.stringify({ error: 'invalid_scope' }) },
      502,
      'authorization_failed',
      /invalid_scope/,
    ],
    [
      'fails with a 500 page',
      { status: 500, contentType: 'text/html', body: '<html>down</html>' },
      502,
      'authorization_failed',
      /device authorization request/,
    ],
    ['does not answer in time', { status: 200, delayMs: 1500 }, 504, 'provider_timeout', /device authorization request/],
    [
      'sends a javascript: verification_uri',
      fakeAnswer({ verification_uri: 'javascript:alert(1)' }),
      502,
      'authorization_failed',
      /verification_uri/,
    ],
    [
      'sends a verification_uri_complete with credentials',
      fakeAnswer({ verification_uri_complete: 'http://user:pw@127.0.0.1:1/device' }),
      502,
      'authorization_failed',
      /verification_uri_complete/,
    ],
    ['sends a negative expires_in', fakeAnswer({ expires_in: -1 }), 502, 'authorization_failed', /.+/],
    ['sends no user_code', fakeAnswer({ user_code: undefined }), 502, 'authorization_failed', /malformed|response/],
  ])('%s', async (_name, fault, status, code, describes) => {
    const p = await lab.spawn()
    // Registration first, so the fault hits the device authorization request only.
    await postJson('/v1/registrations', { issuer: p.issuer }, auth)
    await lab.fault(p.id, { route: 'POST /device/auth', times: 1, ...fault })
    await expectError(await startDevice({ issuer: p.issuer }), status, code, describes)
  })

  it('honours the provider’s interval and caps an absurd lifetime', async () => {
    const p = await lab.spawn()
    await postJson('/v1/registrations', { issuer: p.issuer }, auth)
    await lab.fault(p.id, fakeAnswer({ interval: 7, expires_in: 86_400 }))
    const start = await started({ issuer: p.issuer })
    expect(start).toMatchObject({ interval: 7, expires_in: 1800, user_code: 'ABCD-EFGH' })
    expect(start.device_code).not.toContain('provider-code')
    const first = await pollDevice(start.device_code)
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(7)
    await expectError(first, 400, 'authorization_pending')
  })
})

describe('POST /v1/device/poll: bad input → the whole error response', () => {
  const unknownId = 'a'.repeat(64)
  it.each<[string, () => Promise<Response>, number, string]>([
    ['no app credentials', () => postJson('/v1/device/poll', { device_code: 'x' }), 401, 'invalid_app'],
    ['no device_code', () => postJson('/v1/device/poll', {}, auth), 400, 'invalid_request'],
    ['a device_code that is not a string', () => postJson('/v1/device/poll', { device_code: 7 }, auth), 400, 'invalid_request'],
    ['an unknown field', () => postJson('/v1/device/poll', { device_code: 'x', grant_type: 'device_code' }, auth), 400, 'invalid_request'],
    ['a malformed device_code', () => pollDevice('not-a-code'), 400, 'invalid_grant'],
    ['a device_code of an id this broker never minted', () => pollDevice(`${unknownId}.${'A'.repeat(43)}`), 400, 'invalid_grant'],
    ['an empty body', () => call('/v1/device/poll', { method: 'POST', headers: auth }), 415, 'unsupported_media_type'],
    ['GET', () => call('/v1/device/poll', { headers: auth }), 405, 'method_not_allowed'],
  ])('%s', async (_name, send, status, code) => {
    await expectError(await send(), status, code)
  })

  it('a real object with a wrong secret → invalid_grant, and the right code still works', async () => {
    const p = await lab.spawn()
    const start = await started({ issuer: p.issuer })
    const [id] = start.device_code.split('.')
    await expectError(await pollDevice(`${id}.${'B'.repeat(43)}`), 400, 'invalid_grant')
    await expectError(await pollDevice(start.device_code), 400, 'authorization_pending')
  })
})
