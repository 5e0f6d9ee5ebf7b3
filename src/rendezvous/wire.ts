// The rendezvous routes speak the Matrix client-server API's wire format, not the broker's
// contract: Matrix clients (matrix-rust-sdk through ruma) read `errcode`. Every answer is
// no-store + `Pragma: no-cache` (MSC4108: no intermediate cache may touch the ETags) and open to
// CORS from any origin (MSC4108 "CORS"), exposing the headers clients need.
import type { Ctx } from '../http/types'
import { readAtMost } from '../net/bytes'

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match, If-None-Match',
  'Access-Control-Expose-Headers': 'ETag, Expires, Last-Modified, Location',
}

export const COMMON_HEADERS: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...CORS_HEADERS }

export type MatrixErrcode =
  | 'M_NOT_FOUND'
  | 'M_UNRECOGNIZED'
  | 'M_TOO_LARGE'
  | 'M_MISSING_PARAM'
  | 'M_INVALID_PARAM'
  | 'M_NOT_JSON'
  | 'M_BAD_JSON'
  | 'M_FORBIDDEN'
  | 'M_UNKNOWN'
  | 'IO_ELEMENT_MSC4388_CONCURRENT_WRITE'

export function matrixError(
  c: Ctx,
  status: 400 | 403 | 404 | 405 | 409 | 412 | 413 | 500,
  errcode: MatrixErrcode,
  error: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
): Response {
  return c.json({ errcode, error, ...extra }, status, { ...COMMON_HEADERS, ...headers })
}

export const notFound = (c: Ctx) => matrixError(c, 404, 'M_NOT_FOUND', 'The rendezvous session is unknown, expired or deleted.')
export const unrecognized = (c: Ctx) => matrixError(c, 405, 'M_UNRECOGNIZED', `${c.req.method} is not allowed on this rendezvous endpoint.`)
export const tooLarge = (c: Ctx, max: number) => matrixError(c, 413, 'M_TOO_LARGE', `The payload is larger than ${max} bytes.`)

/** RFC 9110 IMF-fixdate. */
export const httpDate = (ms: number) => new Date(ms).toUTCString()

/** An ETag as sent: strong, quoted (RFC 9110 §8.8.3). */
export const etagOf = (token: string) => `"${token}"`

/**
 * If-Match of a PUT (MSC4108: strong, single-valued; anything else is malformed). The quoted
 * form is RFC 9110's; the bare token, as the MSC's examples write it, is accepted too.
 */
export function parseIfMatch(value: string): string | undefined {
  const v = value.trim()
  const quoted = /^"([\x21\x23-\x7e]{1,255})"$/.exec(v)
  if (quoted) return quoted[1]
  return /^[A-Za-z0-9._~-]{1,255}$/.test(v) ? v : undefined
}

/** If-None-Match of a GET (RFC 9110 §13.1.2): `*` or a list, compared weakly. */
export function noneMatch(value: string | undefined, token: string): boolean {
  if (value === undefined) return false
  const v = value.trim()
  if (v === '*') return true
  return v.split(',').some((part) => {
    const p = part.trim().replace(/^W\//, '')
    return p === etagOf(token) || p === token
  })
}

/** The request body, or 'too_large' once more than `max` bytes arrive (no Content-Length trusted). */
export async function readCapped(req: Request, max: number): Promise<Uint8Array | 'too_large'> {
  const declared = Number(req.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) return 'too_large'
  if (!req.body) return new Uint8Array()
  return readAtMost(req.body, max)
}

export const utf8Length = (s: string) => new TextEncoder().encode(s).byteLength

/** Strict UTF-8, or undefined. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return undefined
  }
}
