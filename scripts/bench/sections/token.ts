// 2. The cached token fetch, POST /v1/session/token with a session from a real login, against
// the floor: a bare Worker → Durable Object RPC returning a constant.
import type { Ctx } from '../lib/context.ts'
import { brokerLogin } from '../lib/flows.ts'
import { request } from '../lib/http.ts'
import { median, range } from '../lib/stats.ts'
import { abRuns, ratios, summarize } from './abrun.ts'

export async function tokenSection(ctx: Ctx) {
  ctx.log('2. token fetch: broker POST /v1/session/token vs floor (Worker → DO RPC → constant)')
  const t0 = performance.now()
  const s = await brokerLogin(ctx.target)
  const loginMs = performance.now() - t0
  const headers = { authorization: `Bearer ${s.session}` }
  const first = await request(`${ctx.broker.url}/v1/session/token`, { method: 'POST', headers })
  if (first.status !== 200) throw new Error(`token: ${first.status} ${first.body}`)
  const answer = JSON.parse(first.body) as { access_token: string; refreshed: boolean }
  if (answer.access_token !== s.access_token || answer.refreshed) throw new Error('the token fetch refreshed: not the cached path')
  // A third reference, "plain": the floor Worker answering the same constant without the
  // Durable Object — what the dev stack (wrangler dev's proxy and entry workers, workerd's HTTP
  // server) costs by itself, to tell the systems' own cost from the common overhead.
  const runs = await abRuns(ctx, [
    { name: 'broker', opts: { url: `${ctx.broker.url}/v1/session/token`, method: 'POST', headers, dev: ctx.broker }, expectStatus: 200 },
    { name: 'floor', opts: { url: `${ctx.floor.url}/`, method: 'POST', headers, dev: ctx.floor }, expectStatus: 200 },
    { name: 'plain', opts: { url: `${ctx.floor.url}/plain`, method: 'POST', headers, dev: ctx.floor }, expectStatus: 200 },
    { name: 'plain-log', opts: { url: `${ctx.floor.url}/plain-log`, method: 'POST', headers, dev: ctx.floor }, expectStatus: 200 },
  ])
  const b = summarize(runs, 'broker')
  const f = summarize(runs, 'floor')
  const p = summarize(runs, 'plain')
  const pl = summarize(runs, 'plain-log')
  // CPU beyond the dev stack's own, per request: what the Worker code and its DO call cost.
  const net = (x: typeof b) => (x.cpuMsPerRequest && p.cpuMsPerRequest ? x.cpuMsPerRequest.workerd - p.cpuMsPerRequest.workerd : Number.NaN)
  const cpu = (r: (typeof runs)[number], k: string) => r.loaded[k]!.cpuMsPerRequest?.workerd ?? Number.NaN
  const netPerRun = runs.map((r) => (cpu(r, 'broker') - cpu(r, 'plain')) / (cpu(r, 'floor') - cpu(r, 'plain')))
  // The same without the cost of one log line (the broker's per-request log, LOG_LEVEL=info).
  const netNoLogPerRun = runs.map((r) => (cpu(r, 'broker') - cpu(r, 'plain-log')) / (cpu(r, 'floor') - cpu(r, 'plain')))
  // Still the same token: nothing refreshed during the load.
  const after = JSON.parse((await request(`${ctx.broker.url}/v1/session/token`, { method: 'POST', headers })).body) as {
    access_token: string
  }
  return {
    login_ms: loginMs,
    same_token_after_load: after.access_token === s.access_token,
    broker: b,
    floor: f,
    plain: p,
    'plain-log': pl,
    ratio: ratios(runs, 'broker', 'floor'),
    ratio_floor_over_plain: ratios(runs, 'floor', 'plain'),
    net_cpu_ms_per_request: { broker: net(b), floor: net(f) },
    net_cpu_ratio: { median: median(netPerRun), range: range(netPerRun), perRun: netPerRun },
    log_line_cpu_ms: pl.cpuMsPerRequest && p.cpuMsPerRequest ? pl.cpuMsPerRequest.workerd - p.cpuMsPerRequest.workerd : Number.NaN,
    log_line_wrangler_cpu_ms:
      pl.cpuMsPerRequest && p.cpuMsPerRequest ? pl.cpuMsPerRequest.wrangler - p.cpuMsPerRequest.wrangler : Number.NaN,
    net_cpu_ratio_without_log: { median: median(netNoLogPerRun), range: range(netNoLogPerRun), perRun: netNoLogPerRun },
    runs,
  }
}
