// 3. Refresh coalescing: N concurrent POST /v1/session/refresh on one broker session, against N
// concurrent callers of a naive refresh-on-expiry client (each reads the stored refresh token
// and calls the provider's token endpoint itself, oauth4webapi, no serialization), same
// provider with refresh-token rotation (and oidc-provider's reuse detection), same run.
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { Ctx } from '../lib/context.ts'
import { brokerLogin, discover, introspect, oauth, providerTokens, refreshAtProvider } from '../lib/flows.ts'
import { Jar, request } from '../lib/http.ts'
import { withTimeout } from '../lib/procs.ts'
import { dist, median, round } from '../lib/stats.ts'

const h = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12)
const BURST_TIMEOUT_MS = 60_000

interface BrokerRound {
  callers: number
  ok: number
  errors: Record<string, number>
  distinct_access_tokens: number
  provider_token_requests: number
  provider_refresh_grants: number
  provider_refresh_errors: Record<string, number>
  latency_ms: ReturnType<typeof dist>
  slowest_ms: number
}

interface NaiveRound {
  callers: number
  ok: number
  invalid_grant: number
  other_errors: number
  provider_token_requests: number
  provider_refresh_grants: number
  provider_invalid_grant: number
  grants_revoked: number
  /** Successful rotations that presented the same parent refresh token: each starts a chain. */
  chains_from_one_parent: number
  forked_chains: number
  /** After the burst: issued refresh tokens the provider still accepts (introspection). */
  live_refresh_tokens_after: number
  stored_token_still_valid: boolean
  latency_ms: ReturnType<typeof dist>
  slowest_ms: number
}

async function brokerBurst(ctx: Ctx, n: number): Promise<BrokerRound> {
  const s = await brokerLogin(ctx.target)
  const agent = new http.Agent({ keepAlive: false, maxSockets: n })
  await ctx.provider.reset()
  const t0 = performance.now()
  const results = await withTimeout(
    Promise.all(
      Array.from({ length: n }, () =>
        request(`${ctx.broker.url}/v1/session/refresh`, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.session}` },
          agent,
          timeoutMs: BURST_TIMEOUT_MS,
        })
          .then((r) => ({ status: r.status, body: r.body, ms: performance.now() - t0 }))
          .catch((e: Error) => ({ status: 0, body: e.message, ms: performance.now() - t0 })),
      ),
    ),
    BURST_TIMEOUT_MS + 5000,
    'broker refresh burst',
  )
  agent.destroy()
  const counts = await ctx.provider.counts()
  const errors: Record<string, number> = {}
  const tokens = new Set<string>()
  for (const r of results) {
    if (r.status === 200) tokens.add((JSON.parse(r.body) as { access_token: string }).access_token)
    else errors[`${r.status}`] = (errors[`${r.status}`] ?? 0) + 1
  }
  const refreshErrors = Object.fromEntries(Object.entries(counts.grantErrors).filter(([k]) => k.startsWith('refresh_token:')))
  const lat = dist(results.map((r) => r.ms))
  return {
    callers: n,
    ok: results.filter((r) => r.status === 200).length,
    errors,
    distinct_access_tokens: tokens.size,
    provider_token_requests: counts.byRoute['POST /token'] ?? 0,
    provider_refresh_grants: counts.grants.refresh_token ?? 0,
    provider_refresh_errors: refreshErrors,
    latency_ms: lat,
    slowest_ms: lat.max,
  }
}

async function naiveBurst(ctx: Ctx, as: oauth.AuthorizationServer, n: number): Promise<NaiveRound> {
  const c = ctx.naiveClient
  const first = await providerTokens(as, c, new Jar())
  if (!first.refresh_token) throw new Error('the provider issued no refresh token to the naive client')
  // The naive client's token store: whoever finishes last wins.
  const store = { refresh_token: first.refresh_token, access_token: first.access_token }
  const issued: string[] = []
  await ctx.provider.reset()
  const t0 = performance.now()
  const results = await withTimeout(
    Promise.all(
      Array.from({ length: n }, async () => {
        const presented = store.refresh_token // reads the stored refresh token…
        try {
          const r = await refreshAtProvider(as, c, presented) // …and refreshes, unserialized
          if (r.refresh_token) {
            issued.push(r.refresh_token)
            store.refresh_token = r.refresh_token
          }
          store.access_token = r.access_token
          return { ok: true, parent: h(presented), error: undefined as string | undefined, ms: performance.now() - t0 }
        } catch (e) {
          const code = e instanceof oauth.ResponseBodyError ? e.error : (e as Error).message
          return { ok: false, parent: h(presented), error: code, ms: performance.now() - t0 }
        }
      }),
    ),
    BURST_TIMEOUT_MS + 5000,
    'naive refresh burst',
  )
  const counts = await ctx.provider.counts()
  const ok = results.filter((r) => r.ok)
  const parents = new Map<string, number>()
  for (const r of ok) parents.set(r.parent, (parents.get(r.parent) ?? 0) + 1)
  const fromOne = Math.max(0, ...parents.values())
  // Which of the issued refresh tokens survive (introspection does not consume them); bounded by n.
  let live = 0
  for (let i = 0; i < issued.length; i += 10) {
    const batch = await Promise.all(issued.slice(i, i + 10).map((t) => introspect(as, c, t).catch(() => false)))
    live += batch.filter(Boolean).length
  }
  const storedValid = await introspect(as, c, store.refresh_token).catch(() => false)
  const lat = dist(results.map((r) => r.ms))
  return {
    callers: n,
    ok: ok.length,
    invalid_grant: results.filter((r) => r.error === 'invalid_grant').length,
    other_errors: results.filter((r) => !r.ok && r.error !== 'invalid_grant').length,
    provider_token_requests: counts.byRoute['POST /token'] ?? 0,
    provider_refresh_grants: counts.grants.refresh_token ?? 0,
    provider_invalid_grant: counts.grantErrors['refresh_token:invalid_grant'] ?? 0,
    grants_revoked: counts.grantsRevoked,
    chains_from_one_parent: fromOne,
    forked_chains: Math.max(0, ok.length - parents.size),
    live_refresh_tokens_after: live,
    stored_token_still_valid: storedValid,
    latency_ms: lat,
    slowest_ms: lat.max,
  }
}

export async function refreshSection(ctx: Ctx) {
  ctx.log('3. refresh coalescing: broker vs naive refresh-on-expiry client')
  const as = await discover(ctx.provider.issuer)
  const out: Array<{ n: number; broker: BrokerRound[]; naive: NaiveRound[]; summary: Record<string, unknown> }> = []
  for (const n of ctx.settings.refreshCallers) {
    const broker: BrokerRound[] = []
    const naive: NaiveRound[] = []
    const slowRatio: number[] = []
    for (let round_ = 0; round_ < ctx.settings.refreshRounds; round_++) {
      // Both bursts in the same round, order alternating; each on a fresh session.
      const order = round_ % 2 === 0 ? ['broker', 'naive'] : ['naive', 'broker']
      let b: BrokerRound | undefined
      let v: NaiveRound | undefined
      for (const who of order) {
        if (who === 'broker') b = await brokerBurst(ctx, n)
        else v = await naiveBurst(ctx, as, n)
      }
      broker.push(b!)
      naive.push(v!)
      slowRatio.push(b!.slowest_ms / v!.slowest_ms)
      ctx.log(
        `  N=${n} round ${round_ + 1}: broker ${b!.provider_refresh_grants} refresh(es) at the provider, ${b!.ok}/${n} ok, slowest ${round(b!.slowest_ms, 1)} ms | ` +
          `naive ${v!.provider_token_requests} refresh requests, ${v!.ok} ok, ${v!.invalid_grant} invalid_grant, ${v!.forked_chains} forks, ` +
          `${v!.live_refresh_tokens_after} live after, stored token ${v!.stored_token_still_valid ? 'valid' : 'revoked'}, slowest ${round(v!.slowest_ms, 1)} ms`,
      )
    }
    out.push({
      n,
      broker,
      naive,
      summary: {
        broker_refreshes_at_provider: median(broker.map((x) => x.provider_refresh_grants)),
        broker_max_refreshes_at_provider: Math.max(...broker.map((x) => x.provider_refresh_grants)),
        broker_all_ok: broker.every(
          (x) => x.ok === n && x.distinct_access_tokens <= broker.reduce((m, y) => Math.max(m, y.provider_refresh_grants), 1),
        ),
        broker_rounds_with_more_than_one_refresh: broker
          .filter((x) => x.provider_refresh_grants > 1)
          .map((x) => ({
            refreshes: x.provider_refresh_grants,
            distinct_access_tokens: x.distinct_access_tokens,
            slowest_ms: x.slowest_ms,
            refresh_errors: x.provider_refresh_errors,
          })),
        broker_slowest_ms: median(broker.map((x) => x.slowest_ms)),
        broker_p50_ms: median(broker.map((x) => x.latency_ms.p50)),
        naive_refresh_requests_at_provider: median(naive.map((x) => x.provider_token_requests)),
        naive_successes: median(naive.map((x) => x.ok)),
        naive_invalid_grant: median(naive.map((x) => x.invalid_grant)),
        naive_forked_chains: median(naive.map((x) => x.forked_chains)),
        naive_grants_revoked: median(naive.map((x) => x.grants_revoked)),
        naive_session_survived: naive.filter((x) => x.stored_token_still_valid).length + '/' + naive.length,
        naive_slowest_ms: median(naive.map((x) => x.slowest_ms)),
        naive_p50_ms: median(naive.map((x) => x.latency_ms.p50)),
        slowest_ratio_broker_over_naive: round(median(slowRatio), 3),
        slowest_ratio_per_round: slowRatio.map((x) => round(x, 3)),
      },
    })
  }
  return out
}
