// Rendezvous test helpers: Matrix-shaped errors and the two protocols' calls.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import { BROKER, call } from '../helpers'

export const V4108 = '/_matrix/client/unstable/org.matrix.msc4108/rendezvous'
export const V4388 = '/_matrix/client/unstable/io.element.msc4388/rendezvous'

/** A Matrix error answer: status, errcode, a sentence, no-store, JSON, no stack trace. */
export async function expectMatrixError(
  res: Response,
  status: number,
  errcode: string,
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const text = await res.text()
  expect({ status: res.status, body: text }).toMatchObject({ status })
  const body = JSON.parse(text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['errcode', 'error', ...Object.keys(extra)].sort())
  expect(body).toMatchObject({ errcode, ...extra })
  expect(typeof body.error).toBe('string')
  expect((body.error as string).length).toBeGreaterThan(5)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  expect(text).not.toMatch(/\bat [\w.]+ \(|node_modules|\.ts:\d+/)
  return body
}

export const text = (body: string, headers: Record<string, string> = {}) => ({
  headers: { 'content-type': 'text/plain', ...headers },
  body,
})

/** MSC4108: create → {url, etag, path}. */
export async function create4108(payload = ''): Promise<{ url: string; etag: string; path: string; res: Response }> {
  const res = await call(V4108, { method: 'POST', ...text(payload) })
  expect(res.status).toBe(201)
  const { url } = await res.clone().json<{ url: string }>()
  return { url, etag: res.headers.get('etag')!, path: url.slice(BROKER.length), res }
}

export const get4108 = (path: string, headers: Record<string, string> = {}) => call(path, { headers })
export const put4108 = (path: string, ifMatch: string | undefined, payload: string, headers: Record<string, string> = {}) =>
  call(path, { method: 'PUT', ...text(payload, { ...(ifMatch !== undefined ? { 'if-match': ifMatch } : {}), ...headers }) })

export const json = (method: string, body: unknown) => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

export interface Created4388 {
  id: string
  sequence_token: string
  expires_in_ms: number
}

export async function create4388(data = ''): Promise<Created4388> {
  const res = await call(V4388, json('POST', { data }))
  expect(res.status).toBe(200)
  return res.json()
}

export const get4388 = (id: string, headers: Record<string, string> = {}) => call(`${V4388}/${id}`, { headers })
export const put4388 = (id: string, sequence_token: string, data: string) => call(`${V4388}/${id}`, json('PUT', { sequence_token, data }))

/** Time passes: the session's expiry is now (its alarm may not have run yet). */
export const expireNow = (id: string) =>
  runInDurableObject(env.RENDEZVOUS.get(env.RENDEZVOUS.idFromString(id)), async (_o, state) => {
    const r = state.storage.kv.get<Record<string, unknown>>('rendezvous')
    if (r) state.storage.kv.put('rendezvous', { ...r, expires_at: Date.now() - 1 })
  })

export const storedKeys = (id: string) =>
  runInDurableObject(env.RENDEZVOUS.get(env.RENDEZVOUS.idFromString(id)), async (_o, state) => [...state.storage.kv.list()].map(([k]) => k))
