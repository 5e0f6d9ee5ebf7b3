// Helpers for tests running in workerd.
import { exports } from 'cloudflare:workers'
import { expect, inject } from 'vitest'

export const BROKER = 'https://broker.test'

export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(new URL(path, BROKER), init))
}

export function basic(app: { id: string; secret: string }): string {
  return `Basic ${btoa(`${app.id}:${app.secret}`)}`
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

/** Asserts the whole error response of the contract: status, code, a sentence, no-store, JSON. */
export async function expectError(res: Response, status: number, code: string, describes?: RegExp): Promise<string> {
  const text = await res.text()
  expect({ status: res.status, body: text }).toMatchObject({ status })
  const body = JSON.parse(text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
  expect(body.error).toBe(code)
  expect(typeof body.error_description).toBe('string')
  expect((body.error_description as string).length).toBeGreaterThan(5)
  if (describes) expect(body.error_description).toMatch(describes)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(text).not.toMatch(/\bat [\w.]+ \(|node_modules|\.ts:\d+/) // no stack traces
  return body.error_description as string
}

export const issuer = () => inject('oidcIssuer')
export const hostile = (scenario: string) => `${inject('hostileUrl')}/h/${scenario}`
export const homeserver = (mode: string) => `${inject('hostileUrl')}/hs/${mode}`

/** The lab spawns fresh providers, each with its own counters (see test/support/lab.ts). */
export const lab = {
  async spawn(opts: Record<string, unknown> = {}): Promise<{ id: number; issuer: string }> {
    const res = await fetch(`${inject('labUrl')}/providers`, { method: 'POST', body: JSON.stringify(opts) })
    return res.json()
  },
  async counts(id: number): Promise<Record<string, number>> {
    return (await fetch(`${inject('labUrl')}/providers/${id}/counts`)).json()
  },
  async fault(id: number, fault: Record<string, unknown>): Promise<void> {
    await fetch(`${inject('labUrl')}/providers/${id}/faults`, { method: 'POST', body: JSON.stringify(fault) })
  },
  async client(id: number, clientId: string): Promise<Record<string, unknown> | undefined> {
    const res = await fetch(`${inject('labUrl')}/providers/${id}/clients/${encodeURIComponent(clientId)}`)
    return res.status === 200 ? res.json() : undefined
  },
  async clearFaults(id: number): Promise<void> {
    await fetch(`${inject('labUrl')}/providers/${id}/faults`, { method: 'DELETE' })
  },
}

export const bearer = (handle: string) => ({ authorization: `Bearer ${handle}` })

export async function sha256hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)))
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** What the provider itself thinks of a token (the lab reads its token store). */
export async function introspect(
  providerId: number,
  token: string,
): Promise<{ active: boolean; kind: string | null; scope: string | null }> {
  return (await fetch(`${inject('labUrl')}/providers/${providerId}/introspect`, { method: 'POST', body: token })).json()
}
