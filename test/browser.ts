// A minimal browser for tests in workerd: follows redirects by hand with a cookie jar per
// host, sending broker URLs to the Worker and everything else over real loopback HTTP.
import { exports } from 'cloudflare:workers'
import { BROKER, basic, postJson } from './helpers'
import { APP, DEMO_RETURN } from './constants'

export class Browser {
  private jar = new Map<string, Map<string, string>>()

  /** `broker` answers requests for the broker's origin (default: the Worker under test). */
  constructor(private readonly broker: (req: Request) => Promise<Response> = (req) => exports.default.fetch(req)) {}

  async get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
    const u = new URL(url, BROKER)
    const cookie = [...this.cookies(u.host)].map(([k, v]) => `${k}=${v}`).join('; ')
    const init: RequestInit = { method, redirect: 'manual', headers: { ...headers, ...(cookie ? { cookie } : {}) } }
    const res = u.origin === BROKER ? await this.broker(new Request(u.href, init)) : await fetch(u.href, init)
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const jar = this.jar.get(u.host) ?? new Map<string, string>()
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') jar.delete(name)
      else jar.set(name, value)
      this.jar.set(u.host, jar)
    }
    return res
  }

  /** Follows redirects from `url` until one leaves for `stopAtOrigin`; returns that URL unfetched. */
  async follow(url: string, stopAtOrigin: string, max = 20): Promise<URL> {
    let next = url
    for (let i = 0; i < max; i++) {
      const u = new URL(next)
      if (u.origin === stopAtOrigin) return u
      const res = await this.get(next)
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || !location) {
        throw new Error(`stopped at ${u.origin}${u.pathname} with ${res.status}: ${(await res.text()).slice(0, 300)}`)
      }
      await res.body?.cancel()
      next = new URL(location, next).href
    }
    throw new Error('too many redirects')
  }

  cookies(host = new URL(BROKER).host): Map<string, string> {
    return this.jar.get(host) ?? new Map()
  }

  setCookie(name: string, value: string, host = new URL(BROKER).host) {
    const jar = this.jar.get(host) ?? new Map<string, string>()
    jar.set(name, value)
    this.jar.set(host, jar)
  }
}

export const APP_ORIGIN = new URL(DEMO_RETURN).origin

export function loginUrl(params: Record<string, string>): string {
  return `${BROKER}/v1/login?${new URLSearchParams({ app: APP.id, return_to: DEMO_RETURN, state: 'app-state-1', ...params })}`
}

/** Until the browser is back at the provider's redirect to the broker's callback. */
export async function untilCallback(browser: Browser, params: Record<string, string>): Promise<URL> {
  const first = await browser.get(loginUrl(params))
  if (first.status !== 302) throw new Error(`login answered ${first.status}: ${await first.text()}`)
  const next = first.headers.get('location')!
  // Stop before the broker's callback: follow only provider hops.
  let url = next
  for (let i = 0; i < 20; i++) {
    const u = new URL(url)
    if (u.origin === BROKER) return u
    const res = await browser.get(url)
    const location = res.headers.get('location')
    if (!location) throw new Error(`provider stopped with ${res.status}: ${(await res.text()).slice(0, 300)}`)
    url = new URL(location, url).href
  }
  throw new Error('too many redirects')
}

/** The whole browser flow: returns where the broker sent the browser back to the app. */
export async function browserLogin(params: Record<string, string>, browser = new Browser()): Promise<URL> {
  const callback = await untilCallback(browser, params)
  return browser.follow(callback.href, APP_ORIGIN)
}

export async function redeem(code: string, app = APP) {
  return postJson('/v1/sessions', { code }, { authorization: basic(app) })
}

export interface NewSession {
  session: string
  session_id: string
  access_token: string
  expires_at: number | null
  scope: string
  user: Record<string, string>
}

/** A whole login (browser + POST /v1/sessions): a session handle and its first token. */
export async function newSession(params: Record<string, string>): Promise<NewSession> {
  const back = await browserLogin(params)
  const code = back.searchParams.get('code')
  if (!code) throw new Error(`login failed: ${back.href}`)
  const res = await redeem(code)
  if (res.status !== 201) throw new Error(`redeem failed: ${res.status} ${await res.text()}`)
  return res.json()
}
