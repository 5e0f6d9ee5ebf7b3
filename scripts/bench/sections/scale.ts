// 4. Scale: sessions created through POST /v1/sessions/import with real tokens from the provider
// (a code flow for the broker's own client, straight at the provider), in steps; at each step a
// sweep that fetches every session's token once, then a timed load spread round-robin over all
// sessions, and workerd's RSS.
import { readdirSync } from 'node:fs'
import http from 'node:http'
import type { Ctx } from '../lib/context.ts'
import type { DevServer } from '../lib/procs.ts'
import { type BrokerTarget, brokerLogin, type CreatedSession, discover, providerTokens } from '../lib/flows.ts'
import { basic, Jar, postJson, request } from '../lib/http.ts'
import { load } from '../lib/load.ts'
import { devProcs, liveObjects, runtimeRss, sleep } from '../lib/procs.ts'
import { dist, median, round } from '../lib/stats.ts'

const CREATORS = 6
const SWEEP_MAX = 2000
const MiB = 1024 * 1024

function openFds(dev: DevServer): number {
  return devProcs(dev).workerd.reduce((n, p) => {
    try {
      return n + readdirSync(`/proc/${p.pid}/fd`).length
    } catch {
      return n
    }
  }, 0)
}

export async function scaleSection(ctx: Ctx) {
  ctx.log('4. scale: sessions → token-fetch latency and workerd RSS (a fresh broker)')
  // A broker of its own (same bundle and config, new wrangler dev, empty state): the memory
  // baseline is not polluted by the other sections' load.
  const { dev, target } = await ctx.freshBroker()
  try {
    return await scaleOn(ctx, dev, target)
  } finally {
    await dev.stop()
  }
}

async function scaleOn(ctx: Ctx, dev: DevServer, target: BrokerTarget) {
  const as = await discover(ctx.provider.issuer)
  const c = ctx.brokerClient
  const agent = new http.Agent({ keepAlive: true, maxSockets: CREATORS * 2 })

  // Real logins, for the record (what creating sessions that way costs) — on the main broker, so
  // that every session on this one is an imported one.
  const loginMs: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await brokerLogin(ctx.target)
    loginMs.push(performance.now() - t)
  }

  const sessions: string[] = []
  const createMs: number[] = []
  let createWallS = 0
  const rate = () => (createWallS > 0 ? sessions.length / createWallS : Infinity)
  let failures = 0
  async function createUpTo(count: number, deadline: number) {
    let next = sessions.length
    const worker = async () => {
      const jar = new Jar()
      while (next < count && Date.now() < deadline && failures < 50) {
        next++
        const t = performance.now()
        try {
          const tok = await providerTokens(as, c, jar, agent)
          const res = await postJson(
            `${dev.url}/v1/sessions/import`,
            {
              issuer: ctx.provider.issuer,
              client_id: c.client_id,
              scope: tok.scope ?? 'openid offline_access',
              tokens: {
                access_token: tok.access_token,
                refresh_token: tok.refresh_token,
                ...(tok.id_token ? { id_token: tok.id_token } : {}),
                ...(tok.expires_in ? { expires_at: Math.floor(Date.now() / 1000) + tok.expires_in } : {}),
              },
            },
            { authorization: basic(target.app.id, target.app.secret) },
            agent,
          )
          if (res.status !== 201) throw new Error(`import: ${res.status} ${res.body.slice(0, 200)}`)
          sessions.push((JSON.parse(res.body) as CreatedSession).session)
          createMs.push(performance.now() - t)
        } catch (e) {
          failures++
          next--
          if (failures <= 3) ctx.log(`  ! session creation failed: ${(e as Error).message}`)
        }
      }
    }
    await Promise.all(Array.from({ length: CREATORS }, worker))
  }

  // Warm before the baseline (isolate up, provider metadata cached), then a pause.
  for (let i = 0; i < 20; i++) await request(`${dev.url}/healthz`, { agent })
  const disc = await request(`${dev.url}/v1/discovery?${new URLSearchParams({ issuer: ctx.provider.issuer })}`, { agent })
  if (disc.status !== 200) throw new Error(`discovery on the fresh broker: ${disc.status} ${disc.body.slice(0, 200)}`)
  await sleep(2000)
  const rssBase = runtimeRss(dev)
  const fdBase = openFds(dev)
  const budgetEnd = Date.now() + ctx.settings.scaleCreateBudgetS * 1000
  const steps: Array<Record<string, unknown>> = []
  let prev: { rss: number; n: number } | undefined
  const wanted = ctx.settings.scaleSteps
  for (let si = 0; si < wanted.length; si++) {
    let want = wanted[si]!
    // Past the first steps: only as many as the remaining budget allows at the rate seen so far.
    const affordable = sessions.length + Math.floor(((budgetEnd - Date.now()) / 1000) * rate() * 0.9)
    if (want > affordable) {
      const mag = 10 ** Math.floor(Math.log10(Math.max(affordable, 1)))
      const capped = Math.floor(affordable / mag) * mag
      ctx.log(`  step ${want}: ~${Math.round(rate())} sessions/s, the budget allows ~${affordable}; measuring ${capped} instead`)
      if (capped <= sessions.length) break
      want = capped
    }
    const tc = performance.now()
    await createUpTo(want, budgetEnd + 30_000)
    const createS = (performance.now() - tc) / 1000
    createWallS += createS
    if (sessions.length < want) ctx.log(`  ! created ${sessions.length} of ${want}`)
    const n = sessions.length
    const rssCreated = runtimeRss(dev).bytes
    const liveCreated = liveObjects(dev, 'Session')

    // Sweep: the first token fetch after creation, 8 at a time, over every session (or, past
    // SWEEP_MAX, an evenly spaced sample of them).
    const sweep: number[] = []
    let sweepErrors = 0
    let k = 0
    const stride = Math.max(1, Math.ceil(n / SWEEP_MAX))
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (k < n) {
          const s = sessions[k]!
          k += stride
          const r = await request(`${dev.url}/v1/session/token`, { method: 'POST', headers: { authorization: `Bearer ${s}` }, agent })
          if (r.status !== 200) sweepErrors++
          sweep.push(r.ms)
        }
      }),
    )
    const rssSwept = runtimeRss(dev).bytes
    const liveSwept = liveObjects(dev, 'Session')
    const fds = openFds(dev)

    // Timed load, round-robin over all n sessions.
    const r = await load({
      url: `${dev.url}/v1/session/token`,
      method: 'POST',
      connections: ctx.settings.connections,
      durationS: ctx.settings.scaleLoadSeconds,
      maxRequests: ctx.settings.maxRequestsPerRun,
      headersFor: (i) => ({ authorization: `Bearer ${sessions[i % n]}` }),
      dev,
    })
    const rssLoaded = runtimeRss(dev).bytes
    const liveLoaded = liveObjects(dev, 'Session')
    const step = {
      sessions: n,
      create_seconds: round(createS, 1),
      sweep_latency_ms: dist(sweep),
      sweep_sessions: sweep.length,
      sweep_errors: sweepErrors,
      load: {
        rps: r.rps,
        latency_ms: r.latencyMs,
        statuses: r.statuses,
        cpu_ms_per_request: r.cpuMsPerRequest,
        distinct_sessions_hit: Math.min(n, r.requests),
      },
      rss_mib: {
        before_sessions: rssBase.bytes / MiB,
        after_create: rssCreated / MiB,
        after_sweep: rssSwept / MiB,
        after_load: rssLoaded / MiB,
      },
      rss_kib_per_session: (rssSwept - rssBase.bytes) / 1024 / n,
      rss_kib_per_added_session: prev ? (rssSwept - prev.rss) / 1024 / (n - prev.n) : undefined,
      workerd_open_fds: { before_sessions: fdBase, after_sweep: fds },
      live_session_objects: { after_create: liveCreated, after_sweep: liveSwept, after_load: liveLoaded },
      rss_kib_per_live_object: liveSwept ? (rssSwept - rssBase.bytes) / 1024 / liveSwept : undefined,
    }
    steps.push(step)
    prev = { rss: rssSwept, n }
    ctx.log(
      `  ${n} sessions: sweep p50 ${round(step.sweep_latency_ms.p50)} ms p99 ${round(step.sweep_latency_ms.p99)} ms; load ${round(r.rps, 0)} req/s ` +
        `p50 ${round(r.latencyMs.p50)} ms p99 ${round(r.latencyMs.p99)} ms; RSS ${round(rssSwept / MiB, 0)} MiB (${round(step.rss_kib_per_session, 1)} KiB/session); live objects ${liveCreated} after creation, ${liveSwept} after the sweep, ${liveLoaded} after the load; fds ${fds}`,
    )
  }
  agent.destroy()
  return {
    method: 'POST /v1/sessions/import with tokens from a real code flow at the provider for the broker’s client (static registration)',
    creators: CREATORS,
    rss_of:
      rssBase.which === 'runtime'
        ? 'the runtime workerd (the one running the Worker and its Durable Objects)'
        : 'all workerd processes of the wrangler dev',
    real_login_ms: median(loginMs),
    import_ms: { per_session_p50: median(createMs), sessions_per_second: rate() },
    creation_failures: failures,
    steps,
  }
}
