// The operations src/api/openapi.ts needs for the device and rendezvous routes: with them,
// every route these modules serve is documented, and nothing else.
import { describe, expect, it } from 'vitest'
import { buildOpenApi, OPERATIONS } from '../../src/api/openapi'
import { DEVICE_OPERATIONS } from '../../src/device/openapi'
import { registeredRoutes } from '../../src/http/app'
import '../../src/index'
import { RENDEZVOUS_OPERATIONS } from '../../src/rendezvous/openapi'

type Doc = { paths: Record<string, Record<string, { 'x-error-codes': string[] }>> }

describe('OpenAPI operations of the device and rendezvous routes', () => {
  it('cover exactly the routes src/device and src/rendezvous serve', () => {
    const mine = (p: string) => p.startsWith('/v1/device') || p.startsWith('/_matrix/')
    const doc = buildOpenApi([...DEVICE_OPERATIONS, ...RENDEZVOUS_OPERATIONS]) as Doc
    const documented = Object.entries(doc.paths)
      .filter(([p]) => mine(p))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort()
    // (A route with middleware is listed once per handler.)
    const served = [
      ...new Set(
        registeredRoutes()
          .filter((r) => mine(r.path))
          .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
      ),
    ].sort()
    expect(served).toHaveLength(11)
    expect(documented).toEqual(served)
    // Not yet in the table the app serves: src/api/routes.ts must pass them (see README).
    expect(OPERATIONS.some((o) => mine(o.path))).toBe(false)
  })
})
