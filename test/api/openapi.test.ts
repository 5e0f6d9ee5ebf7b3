import { describe, expect, it } from 'vitest'
import { registeredRoutes } from '../../src/http/app'
import { ERROR_STATUS } from '../../src/http/errors'
import '../../src/index'
import { call } from '../helpers'

// The source, as text: which error codes does the code actually produce?
const sources = import.meta.glob('../../src/**/*.ts', { query: '?raw', import: 'default', eager: true }) as Record<string, string>

type Doc = { openapi: string; paths: Record<string, Record<string, { 'x-error-codes': string[]; responses: Record<string, unknown> }>> }

describe('OpenAPI', () => {
  it('is served at /openapi.json as OpenAPI 3.1', async () => {
    const res = await call('/openapi.json')
    expect(res.status).toBe(200)
    const doc = await res.json<Doc>()
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.paths['/v1/session/token']?.post?.responses['200']).toMatchObject({
      content: { 'application/json': { schema: { type: 'object' } } },
    })
  })

  it('documents every route the app serves', async () => {
    const doc = await (await call('/openapi.json')).json<Doc>()
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)))
    // The demo app (`/`, `/demo/*`) plays an app on the side: not part of the API.
    const served = registeredRoutes()
      .filter((r) => r.path !== '/' && !r.path.startsWith('/demo/'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
    expect(served.length).toBeGreaterThan(10)
    expect(served.filter((r) => !documented.has(r))).toEqual([])
    expect([...documented].filter((r) => !served.includes(r))).toEqual([])
  })

  it('documents only error codes that the code can produce', async () => {
    const doc = await (await call('/openapi.json')).json<Doc>()
    const codes = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((op) => op['x-error-codes'])))
    const text = Object.entries(sources)
      .filter(([f]) => !/\/(http\/errors|api\/openapi|api\/schemas|device\/openapi|rendezvous\/openapi)\.ts$/.test(f))
      .map(([, t]) => t)
      .join('\n')
    for (const code of codes) {
      expect(Object.keys(ERROR_STATUS)).toContain(code)
      expect(text, `${code} is documented but never produced`).toMatch(new RegExp(`['"\`]${code}['"\`]`))
    }
  })

  it('has interactive docs at /docs', async () => {
    const res = await call('/docs')
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('/openapi.json')
  })
})
