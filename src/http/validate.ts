// The one validation hook: zod schemas for query strings and JSON bodies, every failure a
// 400 invalid_request naming the field (never echoing its value).
import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import * as z from 'zod'
import { BrokerError } from './errors'
import type { AppEnv, Ctx } from './types'

export const MAX_JSON_BYTES = 64 * 1024

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const field = issue?.path.length ? issue.path.join('.') : where
  throw new BrokerError('invalid_request', `Invalid ${field}: ${issue?.message ?? 'bad value'}.`)
}

/** The query's values, or undefined if one is repeated or badly encoded (browser routes answer a page). */
export function singleQuery(c: Ctx): Record<string, string> | undefined {
  try {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(c.req.queries())) {
      if (v.length !== 1) return undefined
      out[k] = v[0] ?? ''
    }
    return out
  } catch {
    return undefined // bad percent-encoding
  }
}

/** Query parameters; a parameter given twice is refused (no guessing which one counts). */
export function readQuery<S extends z.ZodType>(c: Ctx, schema: S): z.output<S> {
  let all: Record<string, string[]>
  try {
    all = c.req.queries()
  } catch {
    throw new BrokerError('invalid_request', 'The query string is not valid percent-encoding.')
  }
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(all)) {
    if (v.length > 1) throw new BrokerError('invalid_request', `Invalid ${k}: the parameter is given more than once.`)
    flat[k] = v[0] ?? ''
  }
  return parseWith(schema, flat, 'query')
}

export const limitBody: MiddlewareHandler<AppEnv> = bodyLimit({
  maxSize: MAX_JSON_BYTES,
  onError: () => {
    throw new BrokerError('payload_too_large', `The request body is larger than ${MAX_JSON_BYTES} bytes.`)
  },
})

/** A JSON body (an empty body counts as `{}` where the schema allows it). */
export async function readJson<S extends z.ZodType>(c: Ctx, schema: S, { optional = false } = {}): Promise<z.output<S>> {
  const text = await c.req.text()
  if (optional && text.trim() === '') return parseWith(schema, {}, 'body')
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new BrokerError('unsupported_media_type', 'The request body must be application/json.')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new BrokerError('invalid_request', 'The request body is not valid JSON.')
  }
  return parseWith(schema, value, 'body')
}
