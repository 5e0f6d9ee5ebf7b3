// 1. The login redirect: a warm GET /v1/login (302 to the provider) against @hono/oidc-auth's
// redirect of an unauthenticated request, same provider, same runtime (wrangler dev / workerd).
import type { Ctx } from '../lib/context.ts'
import { loginUrl } from '../lib/flows.ts'
import { request } from '../lib/http.ts'
import { abRuns, ratios, summarize } from './abrun.ts'

export async function loginSection(ctx: Ctx) {
  ctx.log('1. login redirect: broker GET /v1/login vs @hono/oidc-auth')
  const brokerUrl = loginUrl(ctx.target, 'x')
  const honoUrl = `${ctx.hono.url}/login`
  // Both must really redirect to the provider's authorization endpoint.
  const check = async (url: string) => {
    const r = await request(url)
    const loc = r.headers.location ?? ''
    if (r.status !== 302 || !loc.startsWith(`${ctx.provider.issuer}/auth?`))
      throw new Error(`${url} → ${r.status} ${loc} ${r.body.slice(0, 200)}`)
    return {
      status: r.status,
      location_prefix: loc.slice(0, loc.indexOf('?')),
      set_cookies: (r.headers['set-cookie'] ?? []).length,
      bytes: r.body.length,
    }
  }
  const shape = { broker: await check(brokerUrl), hono: await check(honoUrl) }
  const runs = await abRuns(ctx, [
    { name: 'broker', opts: { url: brokerUrl, dev: ctx.broker }, expectStatus: 302 },
    { name: 'hono', opts: { url: honoUrl, dev: ctx.hono }, expectStatus: 302 },
  ])
  return {
    request: { broker: `GET ${new URL(brokerUrl).pathname}?app=demo&return_to=…&issuer=…&state=x`, hono: 'GET /login (no session cookie)' },
    shape,
    broker: summarize(runs, 'broker'),
    hono: summarize(runs, 'hono'),
    ratio: ratios(runs, 'broker', 'hono'),
    runs,
  }
}
