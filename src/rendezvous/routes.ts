// The insecure rendezvous of QR-code login, in both forms Matrix clients speak:
//  - MSC4108 (2024 version), `org.matrix.msc4108`: POST text/plain → 201 {"url"}; the session
//    URL is read with GET (+ If-None-Match → 304), written with PUT + If-Match (→ 202, or 412
//    M_CONCURRENT_WRITE on a stale ETag), closed with DELETE (→ 204).
//  - MSC4388, `io.element.msc4388` (what current matrix-rust-sdk and ruma speak): JSON
//    {"data"} / {"id","sequence_token","expires_in_ms"}, compare-and-swap on sequence_token
//    (→ 409 IO_ELEMENT_MSC4388_CONCURRENT_WRITE), idempotent retries, DELETE → 200 {}.
// Payloads are opaque strings of at most 4096 bytes, gone after 5 minutes. No authentication:
// trust comes from the secure channel the clients build on top (see README).
import { Hono } from 'hono'
import { isBrokerError } from '../http/errors'
import { type AppEnv, type Ctx, originOf, runtimeOf } from '../http/types'
import { MAX_PAYLOAD_BYTES, type Snapshot } from './rendezvous'
import {
  COMMON_HEADERS,
  CORS_HEADERS,
  decodeUtf8,
  etagOf,
  httpDate,
  matrixError,
  noneMatch,
  notFound,
  parseIfMatch,
  readCapped,
  tooLarge,
  unrecognized,
  utf8Length,
} from './wire'

export const MSC4108_PATH = '/_matrix/client/unstable/org.matrix.msc4108/rendezvous'
export const MSC4388_PATH = '/_matrix/client/unstable/io.element.msc4388/rendezvous'

/** Room for JSON escaping around a 4096-byte `data` (MSC4388 bodies). */
const MAX_JSON_BODY = 32 * 1024
const ID = /^[0-9a-f]{64}$/

function stubOf(env: Env, id: string) {
  if (!ID.test(id)) return undefined
  try {
    return env.RENDEZVOUS.get(env.RENDEZVOUS.idFromString(id))
  } catch {
    return undefined // not an id this namespace minted
  }
}

/** Any failure of these routes is still a Matrix error (never the broker's error shape). */
function guarded(handler: (c: Ctx) => Promise<Response>) {
  return async (c: Ctx): Promise<Response> => {
    try {
      return await handler(c)
    } catch (e) {
      if (!isBrokerError(e)) {
        console.error(
          JSON.stringify({
            level: 'error',
            request_id: c.get('requestId'),
            error: (e as Error)?.name,
            message: String((e as Error)?.message ?? e).slice(0, 300),
          }),
        )
      }
      const why = isBrokerError(e) ? e.description : `Unexpected error (request id ${c.get('requestId')}).`
      return matrixError(c, 500, 'M_UNKNOWN', why)
    }
  }
}

/** CORS preflight (OPTIONS), else 405: every other method of a rendezvous path. */
const otherMethods = (c: Ctx) =>
  c.req.method === 'OPTIONS' ? c.body(null, 204, { ...CORS_HEADERS, 'Access-Control-Max-Age': '600' }) : unrecognized(c)

// ---- MSC4108 (2024): ETags and text/plain -----------------------------------------------------

function msc4108Headers(s: Snapshot): Record<string, string> {
  return { ...COMMON_HEADERS, ETag: etagOf(s.token), Expires: httpDate(s.expires_at), 'Last-Modified': httpDate(s.modified_at) }
}

/** The text/plain payload of a POST or PUT, or the error answer. */
async function textPayload(c: Ctx): Promise<string | Response> {
  const type = c.req.header('content-type')
  if (type === undefined) return matrixError(c, 400, 'M_MISSING_PARAM', 'Content-Type is required (text/plain).')
  if (type.split(';')[0]?.trim().toLowerCase() !== 'text/plain')
    return matrixError(c, 400, 'M_INVALID_PARAM', 'Content-Type must be text/plain.')
  const bytes = await readCapped(c.req.raw, MAX_PAYLOAD_BYTES)
  if (bytes === 'too_large') return tooLarge(c, MAX_PAYLOAD_BYTES)
  const text = decodeUtf8(bytes)
  return text ?? matrixError(c, 400, 'M_INVALID_PARAM', 'The payload is not valid UTF-8 text.')
}

const concurrentWrite4108 = (c: Ctx, s: Snapshot) =>
  // MSC4108 "Unstable prefix": a new errcode travels as M_UNKNOWN + org.matrix.msc4108.errcode.
  matrixError(
    c,
    412,
    'M_UNKNOWN',
    'The payload was modified since the ETag given in If-Match.',
    { 'org.matrix.msc4108.errcode': 'M_CONCURRENT_WRITE' },
    msc4108Headers(s),
  )

// ---- MSC4388: JSON and sequence tokens ---------------------------------------------------------

const expiresIn = (s: Snapshot) => Math.max(0, s.expires_at - Date.now())

/** The JSON object of a POST or PUT, or the error answer. */
async function jsonBody(c: Ctx): Promise<Record<string, unknown> | Response> {
  const bytes = await readCapped(c.req.raw, MAX_JSON_BODY)
  if (bytes === 'too_large') return tooLarge(c, MAX_PAYLOAD_BYTES)
  let value: unknown
  try {
    value = JSON.parse(decodeUtf8(bytes) ?? '')
  } catch {
    return matrixError(c, 400, 'M_NOT_JSON', 'The request body is not JSON.')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return matrixError(c, 400, 'M_BAD_JSON', 'The request body must be a JSON object.')
  return value as Record<string, unknown>
}

function stringField(c: Ctx, body: Record<string, unknown>, name: string, pattern?: RegExp): string | Response {
  const v = body[name]
  if (v === undefined) return matrixError(c, 400, 'M_MISSING_PARAM', `${name} is required.`)
  if (typeof v !== 'string' || (pattern && !pattern.test(v)))
    return matrixError(c, 400, 'M_INVALID_PARAM', `${name} must be a string${pattern ? ' token' : ''}.`)
  return v
}

/** Opaque identifier grammar (Matrix appendices). */
const OPAQUE = /^[A-Za-z0-9._~-]{1,255}$/

/** MSC4388 "Unsafe content": a browser navigating to the session gets no payload. */
function isNavigation(c: Ctx): boolean {
  return (
    c.req.header('sec-fetch-mode')?.toLowerCase() === 'navigate' ||
    ['document', 'iframe', 'frame', 'embed', 'object'].includes(c.req.header('sec-fetch-dest')?.toLowerCase() ?? '')
  )
}

function origin(c: Ctx): string {
  return originOf(c, runtimeOf(c))
}

export const rendezvousRoutes = new Hono<AppEnv>()
  // MSC4108: create
  .post(
    MSC4108_PATH,
    guarded(async (c) => {
      const data = await textPayload(c)
      if (typeof data !== 'string') return data
      const id = c.env.RENDEZVOUS.newUniqueId()
      const s = await c.env.RENDEZVOUS.get(id).create('msc4108', data)
      const url = `${origin(c)}${MSC4108_PATH}/${id.toString()}`
      return c.json({ url }, 201, { ...msc4108Headers(s), Location: url })
    }),
  )
  .all(MSC4108_PATH, otherMethods)
  // MSC4108: the session URL
  .get(
    `${MSC4108_PATH}/:id`,
    guarded(async (c) => {
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      const s = stub ? await stub.read('msc4108') : null
      if (!s) return notFound(c)
      if (noneMatch(c.req.header('if-none-match'), s.token)) return c.body(null, 304, msc4108Headers(s))
      return c.body(s.data, 200, { ...msc4108Headers(s), 'Content-Type': 'text/plain; charset=utf-8' })
    }),
  )
  .put(
    `${MSC4108_PATH}/:id`,
    guarded(async (c) => {
      const ifMatch = c.req.header('if-match')
      if (ifMatch === undefined) return matrixError(c, 400, 'M_MISSING_PARAM', 'If-Match is required: the ETag of the last payload seen.')
      const expected = parseIfMatch(ifMatch)
      if (expected === undefined) return matrixError(c, 400, 'M_INVALID_PARAM', 'If-Match must be one strong ETag.')
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      if (!stub) return notFound(c)
      const data = await textPayload(c)
      if (typeof data !== 'string') return data
      const w = await stub.write('msc4108', expected, data, false)
      if (w.status === 'not_found') return notFound(c)
      if (w.status === 'conflict') return concurrentWrite4108(c, w.snapshot)
      return c.body(null, 202, msc4108Headers(w.snapshot))
    }),
  )
  .delete(
    `${MSC4108_PATH}/:id`,
    guarded(async (c) => {
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      if (!stub || !(await stub.remove('msc4108'))) return notFound(c)
      return c.body(null, 204, COMMON_HEADERS)
    }),
  )
  .all(`${MSC4108_PATH}/:id`, otherMethods)
  // MSC4388: discovery and create
  .get(MSC4388_PATH, (c) => c.json({ create_available: true }, 200, COMMON_HEADERS))
  .post(
    MSC4388_PATH,
    guarded(async (c) => {
      const body = await jsonBody(c)
      if (body instanceof Response) return body
      const data = stringField(c, body, 'data')
      if (typeof data !== 'string') return data
      if (utf8Length(data) > MAX_PAYLOAD_BYTES) return tooLarge(c, MAX_PAYLOAD_BYTES)
      const id = c.env.RENDEZVOUS.newUniqueId()
      const s = await c.env.RENDEZVOUS.get(id).create('msc4388', data)
      return c.json({ id: id.toString(), sequence_token: s.token, expires_in_ms: expiresIn(s) }, 200, COMMON_HEADERS)
    }),
  )
  .all(MSC4388_PATH, otherMethods)
  // MSC4388: one session
  .get(
    `${MSC4388_PATH}/:id`,
    guarded(async (c) => {
      if (isNavigation(c)) return matrixError(c, 403, 'M_FORBIDDEN', 'Rendezvous payloads are not served to browser navigations.')
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      const s = stub ? await stub.read('msc4388') : null
      if (!s) return notFound(c)
      return c.json({ data: s.data, sequence_token: s.token, expires_in_ms: expiresIn(s) }, 200, COMMON_HEADERS)
    }),
  )
  .put(
    `${MSC4388_PATH}/:id`,
    guarded(async (c) => {
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      if (!stub) return notFound(c)
      const body = await jsonBody(c)
      if (body instanceof Response) return body
      const token = stringField(c, body, 'sequence_token', OPAQUE)
      if (typeof token !== 'string') return token
      const data = stringField(c, body, 'data')
      if (typeof data !== 'string') return data
      if (utf8Length(data) > MAX_PAYLOAD_BYTES) return tooLarge(c, MAX_PAYLOAD_BYTES)
      const w = await stub.write('msc4388', token, data, true)
      if (w.status === 'not_found') return notFound(c)
      if (w.status === 'conflict') {
        return matrixError(
          c,
          409,
          'IO_ELEMENT_MSC4388_CONCURRENT_WRITE',
          'The payload was modified since that sequence_token: GET it and retry.',
        )
      }
      return c.json({ sequence_token: w.snapshot.token }, 200, COMMON_HEADERS)
    }),
  )
  .delete(
    `${MSC4388_PATH}/:id`,
    guarded(async (c) => {
      const stub = stubOf(c.env, c.req.param('id') ?? '')
      if (!stub || !(await stub.remove('msc4388'))) return notFound(c)
      return c.json({}, 200, COMMON_HEADERS)
    }),
  )
  .all(`${MSC4388_PATH}/:id`, otherMethods)
