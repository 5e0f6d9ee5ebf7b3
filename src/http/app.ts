// The Hono app shell: request ids, the single error mapping, 404/405. Route modules are
// mounted by src/index.ts.
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { logHash } from '../crypto/hash'
import { BrokerError, type ErrorCode, logUnexpected, toWire } from './errors'
import type { AppEnv, Ctx } from './types'

const HTTP_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_request',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
}

export function errorResponse(c: Ctx, e: unknown): Response {
  const requestId = c.get('requestId') ?? crypto.randomUUID()
  let err = e
  if (e instanceof HTTPException) {
    const code = HTTP_CODES[e.status]
    err = code ? new BrokerError(code, 'The request could not be processed.') : e
  }
  const wire = toWire(err, requestId)
  if (!(err instanceof BrokerError)) logUnexpected(e, requestId)
  for (const [k, v] of Object.entries(wire.headers)) c.header(k, v)
  c.header('Cache-Control', 'no-store')
  return c.json(wire.body, wire.status)
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use(async (c, next) => {
    const requestId = c.req.header('cf-ray') ?? crypto.randomUUID()
    const started = Date.now()
    c.set('requestId', requestId)
    await next()
    c.header('X-Request-Id', requestId)
    c.header('X-Content-Type-Options', 'nosniff')
    // One structured line per request: the route pattern, never the URL (it may carry codes
    // and states), and only a hash of the session id.
    // LOG_LEVEL=warn keeps only failures (read raw: logging must not depend on valid config).
    if ((c.env as { LOG_LEVEL?: string } | undefined)?.LOG_LEVEL === 'warn' && c.res.status < 500) return
    const sessionId = /^Bearer ([0-9a-f]{64})\./.exec(c.req.header('authorization') ?? '')?.[1]
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? 'error' : 'info',
        request_id: requestId,
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        duration_ms: Date.now() - started,
        ...(sessionId ? { session: await logHash(sessionId) } : {}),
      }),
    )
  })
  app.onError((e, c) => errorResponse(c, e))
  return app
}

let routes: readonly { method: string; path: string }[] = []

/** The routes the app serves (for the OpenAPI completeness test). */
export const registeredRoutes = () => routes

/** After all routes: 405 for known paths with the wrong method, 404 for the rest. */
export function finish(app: Hono<AppEnv>, knownPaths: readonly string[]): Hono<AppEnv> {
  routes = app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path }))
  for (const path of knownPaths) {
    app.all(path, (c) => errorResponse(c, new BrokerError('method_not_allowed', `${c.req.method} is not allowed on this route.`)))
  }
  app.notFound((c) => errorResponse(c, new BrokerError('not_found', 'There is no such route.')))
  return app
}
