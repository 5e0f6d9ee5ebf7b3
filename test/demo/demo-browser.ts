// The demo under test: the Worker with the demo switched on (the suite's bindings leave it off)
// and a browser with a cookie jar per host that sends broker URLs to that Worker and the rest
// over loopback HTTP to the real provider.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import worker from '../../src/index'
import { APP } from '../constants'
import { Browser } from '../browser'
import { BROKER, issuer } from '../helpers'

export const DEMO_CALLBACK = `${BROKER}/demo/callback`

/** The demo app is the suite's APP, which here also lists the demo's callback. */
function withDemoReturn(json: string): string {
  const apps = JSON.parse(json) as Array<{ id: string; return_urls: string[] }>
  return JSON.stringify(apps.map((a) => (a.id === APP.id ? { ...a, return_urls: [...a.return_urls, DEMO_CALLBACK] } : a)))
}

export const demoEnv = {
  ...env,
  BROKER_APPS: withDemoReturn(env.BROKER_APPS),
  DEMO_APP_ID: APP.id,
  DEMO_APP_SECRET: APP.secret,
  LOCAL_ISSUER: issuer(),
} as Env

export async function demoFetch(path: string, init?: RequestInit, e: Env = demoEnv): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await worker.fetch(new Request(new URL(path, BROKER), init), e, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

/** The suite's browser, pointed at the demo-enabled Worker, plus the demo tests' helpers. */
export class DemoBrowser extends Browser {
  constructor() {
    super((req) => demoFetch(req.url, req))
  }

  post(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.get(path, headers, 'POST')
  }

  /** Follows redirects from `url` until a response that is not one; returns it and where it was. */
  async walk(url: string, max = 20): Promise<{ res: Response; url: string; hops: string[] }> {
    let next = new URL(url, BROKER).href
    const hops: string[] = []
    for (let i = 0; i < max; i++) {
      hops.push(next)
      const res = await this.get(next)
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || !location) return { res, url: next, hops }
      await res.body?.cancel()
      next = new URL(location, next).href
    }
    throw new Error('too many redirects')
  }
}

/** The whole demo login: the form's GET /demo/login, the provider, back to `/` with a session. */
export async function demoLogin(browser = new DemoBrowser()): Promise<{ browser: DemoBrowser; hops: string[] }> {
  const { res, url, hops } = await browser.walk(`/demo/login?provider=local&issuer=&homeserver=`)
  if (url !== `${BROKER}/`) throw new Error(`the demo login stopped at ${url} with ${res.status}: ${(await res.text()).slice(0, 300)}`)
  await res.body?.cancel()
  return { browser, hops }
}

export const SESSION_COOKIE = '__Host-demo-session'
export const STATE_COOKIE = '__Host-demo-state'
