import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { create4108, create4388, expectMatrixError, expireNow, get4388, json, put4388, storedKeys, V4388 } from './helpers'

const OPAQUE = /^[A-Za-z0-9._~-]{1,255}$/

describe('MSC4388 rendezvous (io.element.msc4388): what matrix-rust-sdk and ruma speak', () => {
  it('GET /rendezvous → {"create_available": true}', async () => {
    const res = await call(V4388)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({ create_available: true })
  })

  it('POST {"data"} → 200 {id, sequence_token, expires_in_ms}; GET answers the payload', async () => {
    const res = await call(V4388, json('POST', { data: 'initial data' }))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const created = await res.json<{ id: string; sequence_token: string; expires_in_ms: number }>()
    expect(Object.keys(created).sort()).toEqual(['expires_in_ms', 'id', 'sequence_token'])
    expect(created.id).toMatch(OPAQUE)
    expect(created.sequence_token).toMatch(OPAQUE)
    // MSC4388: at least 120 s for usability, at most 300 s for security.
    expect(created.expires_in_ms).toBeGreaterThan(120_000)
    expect(created.expires_in_ms).toBeLessThanOrEqual(300_000)
    const got = await get4388(created.id)
    expect(got.status).toBe(200)
    const body = await got.json<{ data: string; sequence_token: string; expires_in_ms: number }>()
    expect(Object.keys(body).sort()).toEqual(['data', 'expires_in_ms', 'sequence_token'])
    expect(body).toMatchObject({ data: 'initial data', sequence_token: created.sequence_token })
    expect(body.expires_in_ms).toBeLessThanOrEqual(created.expires_in_ms)
  })

  it('the MSC’s example: G creates, S reads and writes, G reads and writes, tokens advance', async () => {
    const g = await create4388('')
    const s1 = await (await get4388(g.id)).json<{ sequence_token: string; data: string }>()
    expect(s1).toMatchObject({ data: '', sequence_token: g.sequence_token })
    const putS = await put4388(g.id, s1.sequence_token, 'LoginInitiateMessage')
    expect(putS.status).toBe(200)
    const { sequence_token: seq2 } = await putS.json<{ sequence_token: string }>()
    expect(seq2).not.toBe(s1.sequence_token)
    const g2 = await (await get4388(g.id)).json<{ sequence_token: string; data: string }>()
    expect(g2).toMatchObject({ data: 'LoginInitiateMessage', sequence_token: seq2 })
    const putG = await put4388(g.id, seq2, 'LoginOkMessage')
    const { sequence_token: seq3 } = await putG.json<{ sequence_token: string }>()
    expect(new Set([g.sequence_token, seq2, seq3]).size).toBe(3)
    expect(await (await get4388(g.id)).json()).toMatchObject({ data: 'LoginOkMessage', sequence_token: seq3 })
  })

  it('a stale sequence_token with other data → 409 IO_ELEMENT_MSC4388_CONCURRENT_WRITE, nothing changes', async () => {
    const g = await create4388('a')
    const { sequence_token: seq2 } = await (await put4388(g.id, g.sequence_token, 'b')).json<{ sequence_token: string }>()
    await expectMatrixError(await put4388(g.id, g.sequence_token, 'c'), 409, 'IO_ELEMENT_MSC4388_CONCURRENT_WRITE')
    expect(await (await get4388(g.id)).json()).toMatchObject({ data: 'b', sequence_token: seq2 })
  })

  it('idempotent retry: a stale token with the current payload → 200 with the current token, no new write', async () => {
    const g = await create4388('a')
    const first = await (await put4388(g.id, g.sequence_token, 'b')).json<{ sequence_token: string }>()
    // The answer was lost; the client sends the same PUT again.
    const again = await put4388(g.id, g.sequence_token, 'b')
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ sequence_token: first.sequence_token })
  })

  it('writing the same data with the current token still advances the token', async () => {
    const g = await create4388('same')
    const { sequence_token } = await (await put4388(g.id, g.sequence_token, 'same')).json<{ sequence_token: string }>()
    expect(sequence_token).not.toBe(g.sequence_token)
  })

  it('concurrent PUTs with the same token: exactly one wins, the rest get 409', async () => {
    const g = await create4388('start')
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => put4388(g.id, g.sequence_token, `writer ${i}`)))
    expect(all.filter((r) => r.status === 200)).toHaveLength(1)
    for (const r of all.filter((x) => x.status !== 200)) await expectMatrixError(r, 409, 'IO_ELEMENT_MSC4388_CONCURRENT_WRITE')
  })

  it('DELETE → 200 {}; afterwards 404 M_NOT_FOUND everywhere', async () => {
    const g = await create4388('x')
    const del = await call(`${V4388}/${g.id}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(await del.json()).toEqual({})
    await expectMatrixError(await get4388(g.id), 404, 'M_NOT_FOUND')
    await expectMatrixError(await put4388(g.id, g.sequence_token, 'y'), 404, 'M_NOT_FOUND')
    await expectMatrixError(await call(`${V4388}/${g.id}`, { method: 'DELETE' }), 404, 'M_NOT_FOUND')
    expect(await storedKeys(g.id)).toEqual([])
  })

  it('expiry: reads and writes fail with 404 M_NOT_FOUND', async () => {
    const g = await create4388('x')
    await expireNow(g.id)
    await expectMatrixError(await get4388(g.id), 404, 'M_NOT_FOUND')
    await expectMatrixError(await put4388(g.id, g.sequence_token, 'y'), 404, 'M_NOT_FOUND')
  })

  it('a browser navigation gets no payload (MSC4388 unsafe content) → 403 M_FORBIDDEN', async () => {
    const g = await create4388('<script>alert(1)</script>')
    await expectMatrixError(await get4388(g.id, { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), 403, 'M_FORBIDDEN')
    await expectMatrixError(await get4388(g.id, { 'sec-fetch-dest': 'iframe' }), 403, 'M_FORBIDDEN')
    // fetch() from a web client is fine.
    expect((await get4388(g.id, { 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })).status).toBe(200)
  })

  it('an MSC4108 session is not visible through MSC4388', async () => {
    const a = await create4108('x')
    await expectMatrixError(await get4388(a.path.split('/').pop()!), 404, 'M_NOT_FOUND')
  })
})

describe('MSC4388 rendezvous: limits and bad requests', () => {
  it('data of 4096 bytes is accepted; 4097 → 413 M_TOO_LARGE (bytes, not characters)', async () => {
    const max = '€'.repeat(1365) + 'a' // 4095 + 1 bytes
    const g = await create4388(max)
    expect((await (await get4388(g.id)).json<{ data: string }>()).data).toBe(max)
    await expectMatrixError(await call(V4388, json('POST', { data: `${max}b` })), 413, 'M_TOO_LARGE')
    await expectMatrixError(await put4388(g.id, g.sequence_token, `${max}b`), 413, 'M_TOO_LARGE')
    await expectMatrixError(await call(V4388, json('POST', { data: 'x'.repeat(40_000) })), 413, 'M_TOO_LARGE')
  })

  it.each<[string, string, number, string]>([
    ['not JSON', '{"data":', 400, 'M_NOT_JSON'],
    ['a JSON array', '["x"]', 400, 'M_BAD_JSON'],
    ['no data', '{}', 400, 'M_MISSING_PARAM'],
    ['data that is not a string', '{"data": 42}', 400, 'M_INVALID_PARAM'],
  ])('POST with %s', async (_n, body, status, errcode) => {
    await expectMatrixError(await call(V4388, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), status, errcode)
  })

  it.each<[string, (token: string) => unknown, number, string]>([
    ['no sequence_token', () => ({ data: 'x' }), 400, 'M_MISSING_PARAM'],
    ['no data', (t) => ({ sequence_token: t }), 400, 'M_MISSING_PARAM'],
    ['a sequence_token outside the opaque identifier grammar', () => ({ sequence_token: 'a b', data: 'x' }), 400, 'M_INVALID_PARAM'],
    ['a numeric sequence_token', () => ({ sequence_token: 1, data: 'x' }), 400, 'M_INVALID_PARAM'],
  ])('PUT with %s', async (_n, body, status, errcode) => {
    const g = await create4388('keep')
    await expectMatrixError(await call(`${V4388}/${g.id}`, json('PUT', body(g.sequence_token))), status, errcode)
    expect((await (await get4388(g.id)).json<{ data: string }>()).data).toBe('keep')
  })

  it.each([
    ['an id this broker never minted', 'a'.repeat(64)],
    ['a malformed id', 'e8da6355-550b-4a32-a193-1619d9830668'],
  ])('%s → 404 M_NOT_FOUND', async (_n, id) => {
    await expectMatrixError(await get4388(id), 404, 'M_NOT_FOUND')
    await expectMatrixError(await put4388(id, 'token', 'x'), 404, 'M_NOT_FOUND')
    await expectMatrixError(await call(`${V4388}/${id}`, { method: 'DELETE' }), 404, 'M_NOT_FOUND')
  })

  it.each<[string, string]>([
    ['PUT', 'COLLECTION'],
    ['DELETE', 'COLLECTION'],
    ['PATCH', 'COLLECTION'],
    ['POST', 'SESSION'],
    ['PATCH', 'SESSION'],
  ])('%s on the %s → 405 M_UNRECOGNIZED', async (method, target) => {
    const path = target === 'SESSION' ? `${V4388}/${(await create4388('x')).id}` : V4388
    await expectMatrixError(await call(path, json(method, { data: 'x' })), 405, 'M_UNRECOGNIZED')
  })
})
