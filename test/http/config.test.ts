import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { APP } from '../constants'
import { basic, call, expectError, issuer } from '../helpers'

async function fetchWith(overrides: Record<string, unknown>, path: string, init?: RequestInit) {
  const ctx = createExecutionContext()
  const res = await worker.fetch(new Request(`https://broker.test${path}`, init), { ...env, ...overrides } as Env, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

const registration = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: basic(APP) },
  body: JSON.stringify({ issuer: issuer() }),
})

describe('configuration', () => {
  it.each([
    ['BROKER_APPS', 'not json {secret-value}', /BROKER_APPS is invalid/],
    ['BROKER_APPS', JSON.stringify([{ id: 'a' }]), /BROKER_APPS is invalid at 0\./],
    ['BROKER_APPS', JSON.stringify([{ id: 'a b', secret_sha256: 'x', return_urls: [], client_name: 'A' }]), /BROKER_APPS is invalid/],
    ['BROKER_APPS', undefined, /BROKER_APPS is not set/],
    ['STATE_SECRET', undefined, /STATE_SECRET is not set/],
    ['STATE_SECRET', 'short-secret-value', /STATE_SECRET is invalid/],
    ['STATIC_REGISTRATIONS', '{"not a url": {}}', /STATIC_REGISTRATIONS is invalid/],
    ['ALLOW_INSECURE_ISSUERS', 'yes', /ALLOW_INSECURE_ISSUERS is invalid/],
    ['PUBLIC_URL', 'https://broker.example/path', /PUBLIC_URL is invalid/],
    ['PROVIDER_TIMEOUT_MS', '-5', /PROVIDER_TIMEOUT_MS is invalid/],
    ['TOKEN_ENCRYPTION_KEY', 'k1:tooshort', /TOKEN_ENCRYPTION_KEY is invalid/],
  ])('a broken %s → 500 misconfigured naming it, not its value', async (name, value, describes) => {
    const res = await fetchWith({ [name]: value }, `/v1/discovery?issuer=${encodeURIComponent(issuer())}`)
    const description = await expectError(res, 500, 'misconfigured', describes)
    if (typeof value === 'string') expect(description).not.toContain(value)
  })

  it('health does not depend on config', async () => {
    const res = await fetchWith({ BROKER_APPS: 'broken' }, '/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })

  it('PUBLIC_URL sets the callback the broker registers', async () => {
    const res = await fetchWith({ PUBLIC_URL: 'https://public.broker.test' }, '/v1/registrations', registration())
    expect(res.status).toBe(200)
  })
})

describe('the app shell', () => {
  it('GET /healthz', async () => {
    const res = await call('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })

  it('unknown route → 404 not_found', async () => {
    await expectError(await call('/nope'), 404, 'not_found')
  })

  it('every answer carries a request id', async () => {
    const res = await call('/nope')
    expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/)
  })

  it('an unknown app page → 404 page', async () => {
    const res = await call('/apps/%3Cscript%3E')
    expect(res.status).toBe(404)
    const text = await res.text()
    expect(text).not.toContain('<script>')
  })
})
