// The demo plays an outside app, so it talks to the broker the way an app would: HTTP requests
// to the public routes. They go through the Worker's own loopback entrypoint (`exports`), not
// the network, so they take exactly the same routes, checks and error mapping as anyone's.
import { exports } from 'cloudflare:workers'
import * as z from 'zod'
import { BrokerError, ERROR_STATUS, type ErrorCode } from '../http/errors'

const WireError = z.object({ error: z.string().max(64), error_description: z.string().max(1024) })

/** The broker's raw answer (WebSocket upgrades are passed on as they are). */
export function brokerFetch(origin: string, path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(new URL(path, origin), init))
}

/** A JSON answer checked against `schema`; a broker error comes back as the same BrokerError. */
export async function brokerJson<S extends z.ZodType>(origin: string, path: string, init: RequestInit, schema: S): Promise<z.output<S>> {
  const res = await brokerFetch(origin, path, init)
  const body: unknown = await res.json().catch(() => undefined)
  if (res.ok) {
    const r = schema.safeParse(body)
    if (r.success) return r.data
    throw new Error(`The broker's answer to ${path} has an unexpected shape.`)
  }
  const e = WireError.safeParse(body)
  if (e.success && Object.hasOwn(ERROR_STATUS, e.data.error)) {
    const retryAfter = res.headers.get('retry-after')
    throw new BrokerError(e.data.error as ErrorCode, e.data.error_description, retryAfter ? { 'Retry-After': retryAfter } : {})
  }
  throw new Error(`The broker answered ${path} with ${res.status}.`)
}

export const jsonPost = (headers: Record<string, string>, body?: unknown): RequestInit => ({
  method: 'POST',
  headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
  ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
})

/** RFC 7617 with UTF-8, as the broker decodes it (btoa alone takes only Latin-1). */
export const appAuth = (id: string, secret: string) => ({
  authorization: `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${id}:${secret}`)))}`,
})
export const sessionAuth = (handle: string) => ({ authorization: `Bearer ${handle}` })
