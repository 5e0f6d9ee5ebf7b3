import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { BROKER, call } from '../helpers'
import { create4108, expectMatrixError, expireNow, get4108, put4108, storedKeys, text, V4108 } from './helpers'

const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/

function expectCommonHeaders(res: Response) {
  expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{32}"$/)
  expect(res.headers.get('expires')).toMatch(HTTP_DATE)
  expect(res.headers.get('last-modified')).toMatch(HTTP_DATE)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('pragma')).toBe('no-cache')
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  expect(res.headers.get('access-control-expose-headers')).toContain('ETag')
}

describe('MSC4108 (2024) rendezvous: create, read, write, delete', () => {
  it('POST text/plain → 201 {url} with Location, ETag, Expires, Last-Modified', async () => {
    const { res, url, path } = await create4108('hello from A')
    expectCommonHeaders(res)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await res.json()).toEqual({ url })
    expect(res.headers.get('location')).toBe(url)
    expect(url).toMatch(new RegExp(`^${BROKER}${V4108}/[0-9a-f]{64}$`))
    const expires = Date.parse(res.headers.get('expires')!)
    expect(expires - Date.now()).toBeGreaterThan(290_000)
    expect(expires - Date.now()).toBeLessThanOrEqual(300_000)
    const got = await get4108(path)
    expect(got.status).toBe(200)
    expect(got.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(got.headers.get('etag')).toBe(res.headers.get('etag'))
    expectCommonHeaders(got)
    expect(await got.text()).toBe('hello from A')
  })

  it('an empty initial payload (as matrix-rust-sdk creates it) is fine', async () => {
    const { path, etag } = await create4108('')
    const got = await get4108(path)
    expect(got.status).toBe(200)
    expect(await got.text()).toBe('')
    expect(got.headers.get('etag')).toBe(etag)
  })

  it('GET with If-None-Match: the current ETag → 304 (no body), another → 200', async () => {
    const { path, etag } = await create4108('x')
    const same = await get4108(path, { 'if-none-match': etag })
    expect(same.status).toBe(304)
    expectCommonHeaders(same)
    expect(same.headers.get('etag')).toBe(etag)
    expect(await same.text()).toBe('')
    // The bare token (as the MSC's examples write ETags) matches too.
    expect((await get4108(path, { 'if-none-match': etag.slice(1, -1) })).status).toBe(304)
    expect((await get4108(path, { 'if-none-match': '*' })).status).toBe(304)
    expect((await get4108(path, { 'if-none-match': `"other", ${etag}` })).status).toBe(304)
    expect((await get4108(path, { 'if-none-match': '"other"' })).status).toBe(200)
  })

  it('the ping-pong of the MSC: PUT with If-Match → 202 and a new ETag; each side sees the other', async () => {
    const a = await create4108('Hello from A')
    // B reads the payload and answers with the ETag it saw.
    const seenByB = await get4108(a.path)
    const etag1 = seenByB.headers.get('etag')!
    const putB = await put4108(a.path, etag1, 'Hello from B')
    expect(putB.status).toBe(202)
    expectCommonHeaders(putB)
    const etag2 = putB.headers.get('etag')!
    expect(etag2).not.toBe(etag1)
    // A polls with its ETag: modified.
    expect((await get4108(a.path, { 'if-none-match': a.etag })).status).toBe(200)
    const seenByA = await get4108(a.path, { 'if-none-match': a.etag })
    expect(await seenByA.text()).toBe('Hello from B')
    // B polls with its new ETag: not modified until A writes.
    expect((await get4108(a.path, { 'if-none-match': etag2 })).status).toBe(304)
    const putA = await put4108(a.path, etag2, 'Hello again from A')
    expect(putA.status).toBe(202)
    expect(await (await get4108(a.path, { 'if-none-match': etag2 })).text()).toBe('Hello again from A')
  })

  it('the same payload written again still gets a new ETag', async () => {
    const a = await create4108('same')
    const put = await put4108(a.path, a.etag, 'same')
    expect(put.status).toBe(202)
    expect(put.headers.get('etag')).not.toBe(a.etag)
  })

  it('concurrent PUTs with the same ETag: exactly one 202, the rest 412 M_CONCURRENT_WRITE', async () => {
    const a = await create4108('start')
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => put4108(a.path, a.etag, `writer ${i}`)))
    const won = all.filter((r) => r.status === 202)
    expect(won).toHaveLength(1)
    const current = won[0]!.headers.get('etag')!
    for (const r of all.filter((x) => x.status !== 202)) {
      expect(r.headers.get('etag')).toBe(current)
      await expectMatrixError(r, 412, 'M_UNKNOWN', { 'org.matrix.msc4108.errcode': 'M_CONCURRENT_WRITE' })
    }
    // The winner's payload is the one stored; a stale ETag keeps failing.
    const body = await (await get4108(a.path)).text()
    expect(body).toMatch(/^writer \d+$/)
    await expectMatrixError(await put4108(a.path, a.etag, 'late'), 412, 'M_UNKNOWN', { 'org.matrix.msc4108.errcode': 'M_CONCURRENT_WRITE' })
    expect(await (await get4108(a.path)).text()).toBe(body)
  })

  it('DELETE → 204; then GET, PUT and DELETE → 404 M_NOT_FOUND', async () => {
    const a = await create4108('bye')
    const del = await call(a.path, { method: 'DELETE' })
    expect(del.status).toBe(204)
    expect(del.headers.get('cache-control')).toBe('no-store')
    await expectMatrixError(await get4108(a.path), 404, 'M_NOT_FOUND')
    await expectMatrixError(await put4108(a.path, a.etag, 'x'), 404, 'M_NOT_FOUND')
    await expectMatrixError(await call(a.path, { method: 'DELETE' }), 404, 'M_NOT_FOUND')
    expect(await storedKeys(a.path.split('/').pop()!)).toEqual([])
  })

  it('expiry: after Expires every call is 404, and the alarm deletes the payload', async () => {
    const a = await create4108('short-lived')
    const id = a.path.split('/').pop()!
    await expireNow(id)
    await expectMatrixError(await get4108(a.path), 404, 'M_NOT_FOUND')
    await expectMatrixError(await put4108(a.path, a.etag, 'x'), 404, 'M_NOT_FOUND')
    const b = await create4108('also short-lived')
    const idB = b.path.split('/').pop()!
    await runDurableObjectAlarm(env.RENDEZVOUS.get(env.RENDEZVOUS.idFromString(idB)))
    expect(await storedKeys(idB)).toEqual([])
    await expectMatrixError(await get4108(b.path), 404, 'M_NOT_FOUND')
  })
})

describe('MSC4108 (2024) rendezvous: limits and bad requests', () => {
  it('4096 bytes are accepted; 4097 → 413 M_TOO_LARGE on POST and PUT', async () => {
    const max = 'é'.repeat(2048) // 4096 bytes of UTF-8
    const { path, etag } = await create4108(max)
    expect(await (await get4108(path)).text()).toBe(max)
    await expectMatrixError(await call(V4108, { method: 'POST', ...text(`${max}x`) }), 413, 'M_TOO_LARGE')
    await expectMatrixError(await put4108(path, etag, `${max}x`), 413, 'M_TOO_LARGE')
    expect(await (await get4108(path)).text()).toBe(max)
  })

  it('a huge streamed body is cut off at the limit', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(97)
    let sent = 0
    const body = new ReadableStream({
      pull(c) {
        if (sent++ < 8) c.enqueue(chunk)
        else c.close()
      },
    })
    await expectMatrixError(
      await call(V4108, { method: 'POST', headers: { 'content-type': 'text/plain' }, body, duplex: 'half' } as RequestInit),
      413,
      'M_TOO_LARGE',
    )
  })

  it.each<[string, Record<string, string>, number, string]>([
    ['no Content-Type', {}, 400, 'M_MISSING_PARAM'],
    ['application/json', { 'content-type': 'application/json' }, 400, 'M_INVALID_PARAM'],
  ])('POST with %s', async (_n, headers, status, errcode) => {
    // Bytes: a string body would get text/plain from fetch itself.
    await expectMatrixError(await call(V4108, { method: 'POST', headers, body: new TextEncoder().encode('x') }), status, errcode)
  })

  it('POST with text/plain; charset=utf-8 is text/plain', async () => {
    expect((await call(V4108, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'x' })).status).toBe(201)
  })

  it('a payload that is not UTF-8 → 400 M_INVALID_PARAM', async () => {
    await expectMatrixError(
      await call(V4108, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: new Uint8Array([0xff, 0xfe, 0x00]) }),
      400,
      'M_INVALID_PARAM',
    )
  })

  it.each<[string, string | undefined, Record<string, string>, number, string]>([
    ['no If-Match', undefined, {}, 400, 'M_MISSING_PARAM'],
    ['a weak ETag', 'W/"abc"', {}, 400, 'M_INVALID_PARAM'],
    ['a list of ETags', '"a", "b"', {}, 400, 'M_INVALID_PARAM'],
    ['If-Match: *', '*', {}, 400, 'M_INVALID_PARAM'],
    ['an empty Content-Type', 'ETAG', { 'content-type': '' }, 400, 'M_MISSING_PARAM'],
    ['application/octet-stream', 'ETAG', { 'content-type': 'application/octet-stream' }, 400, 'M_INVALID_PARAM'],
  ])('PUT with %s', async (_n, ifMatch, headers, status, errcode) => {
    const a = await create4108('keep')
    await expectMatrixError(await put4108(a.path, ifMatch === 'ETAG' ? a.etag : ifMatch, 'x', headers), status, errcode)
    expect(await (await get4108(a.path)).text()).toBe('keep')
  })

  it('the bare ETag token in If-Match is accepted (the MSC writes them unquoted)', async () => {
    const a = await create4108('x')
    expect((await put4108(a.path, a.etag.slice(1, -1), 'y')).status).toBe(202)
  })

  it.each([
    ['an id this broker never minted', `${V4108}/${'a'.repeat(64)}`],
    ['a malformed id', `${V4108}/not-an-id`],
    ['an id with a trailing path', `${V4108}/${'a'.repeat(64)}/x`],
  ])('GET %s → 404', async (_n, path) => {
    const res = await call(path)
    expect(res.status).toBe(404)
    await res.body?.cancel()
  })

  it('an MSC4388 session is not visible through the MSC4108 URL', async () => {
    const created = await (
      await call('/_matrix/client/unstable/io.element.msc4388/rendezvous', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"data":"x"}',
      })
    ).json<{ id: string }>()
    await expectMatrixError(await get4108(`${V4108}/${created.id}`), 404, 'M_NOT_FOUND')
  })

  it.each<[string, string, string]>([
    ['GET', 'the create endpoint', V4108],
    ['PUT', 'the create endpoint', V4108],
    ['DELETE', 'the create endpoint', V4108],
    ['PATCH', 'the create endpoint', V4108],
    ['POST', 'a session', 'SESSION'],
    ['PATCH', 'a session', 'SESSION'],
  ])('%s on %s → 405 M_UNRECOGNIZED', async (method, _n, target) => {
    const path = target === 'SESSION' ? (await create4108('x')).path : target
    await expectMatrixError(await call(path, { method, ...(method === 'GET' ? {} : text('x')) }), 405, 'M_UNRECOGNIZED')
  })

  it('CORS preflight from any origin', async () => {
    const a = await create4108('x')
    for (const path of [V4108, a.path]) {
      const res = await call(path, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'if-match, content-type',
        },
      })
      expect(res.status).toBe(204)
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('access-control-allow-methods')).toContain('PUT')
      expect(res.headers.get('access-control-allow-headers')).toMatch(/If-Match/)
    }
  })
})
