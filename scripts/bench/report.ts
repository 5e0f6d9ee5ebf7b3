// docs/benchmarks.md and the README headline section, from the figures in docs/benchmarks.json.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any

const n = (x: number | undefined, d = 1) =>
  x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
const int = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'))
const ms = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '—' : x < 10 ? `${n(x, 2)} ms` : x < 100 ? `${n(x, 1)} ms` : `${int(x)} ms`
const x_ = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? '—' : `${n(r, 2)}×`)
const rng = (r: [number, number] | undefined) => (r ? `${n(r[0], 2)}–${n(r[1], 2)}` : '—')
const kib = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : `${n(x, 1)} KiB`)
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')

function headlineRows(doc: Any): string[][] {
  const r = doc.results as Any
  const rows: string[][] = []
  const L = r.login
  if (L) {
    rows.push([
      'Login redirect, warm `GET /v1/login` → 302, 10 connections',
      `${int(L.broker.loaded.rps)} req/s, p50 ${ms(L.broker.loaded.p50)}, p99 ${ms(L.broker.loaded.p99)}`,
      `@hono/oidc-auth: ${int(L.hono.loaded.rps)} req/s, p50 ${ms(L.hono.loaded.p50)}, p99 ${ms(L.hono.loaded.p99)}`,
      `**${x_(L.ratio.loadedRps.median)} the throughput** (p50 latency ${x_(L.ratio.loadedP50.median)})`,
      '—',
    ])
    rows.push([
      'Login redirect, 1 connection (unloaded latency)',
      `p50 ${ms(L.broker.idle.p50)}, p99 ${ms(L.broker.idle.p99)}`,
      `p50 ${ms(L.hono.idle.p50)}, p99 ${ms(L.hono.idle.p99)}`,
      `p50 ${x_(L.ratio.idleP50.median)}, p99 ${x_(L.ratio.idleP99.median)}`,
      '—',
    ])
    rows.push([
      'Provider requests per login redirect (subrequests)',
      n(L.broker.providerRequestsPerRequest, 2),
      n(L.hono.providerRequestsPerRequest, 2),
      '—',
      '0 when warm',
    ])
  }
  const T = r.token
  if (T) {
    rows.push([
      'Cached token fetch `POST /v1/session/token`, 1 connection',
      `p50 ${ms(T.broker.idle.p50)}, p99 ${ms(T.broker.idle.p99)}`,
      `floor (Worker → DO RPC → constant): p50 ${ms(T.floor.idle.p50)}, p99 ${ms(T.floor.idle.p99)}`,
      `**p50 ${x_(T.ratio.idleP50.median)}**, p99 ${x_(T.ratio.idleP99.median)}`,
      '≤ 1.5×',
    ])
    rows.push([
      'Cached token fetch, 10 connections',
      `${int(T.broker.loaded.rps)} req/s, p50 ${ms(T.broker.loaded.p50)}, p99 ${ms(T.broker.loaded.p99)}`,
      `floor: ${int(T.floor.loaded.rps)} req/s, p50 ${ms(T.floor.loaded.p50)}, p99 ${ms(T.floor.loaded.p99)}`,
      `p50 ${x_(T.ratio.loadedP50.median)} (floor has ${x_(1 / T.ratio.loadedRps.median)} the throughput)`,
      '≤ 1.5×',
    ])
    if (T.broker.cpuMsPerRequest && T.floor.cpuMsPerRequest) {
      rows.push([
        'CPU per token fetch (workerd processes, 10 connections)',
        ms(T.broker.cpuMsPerRequest.workerd),
        `floor: ${ms(T.floor.cpuMsPerRequest.workerd)}`,
        x_(T.ratio.cpuPerRequest?.median),
        '—',
      ])
      rows.push([
        'CPU per token fetch beyond the dev stack (minus a plain constant response)',
        ms(T.net_cpu_ms_per_request.broker),
        `floor: ${ms(T.net_cpu_ms_per_request.floor)}`,
        `+${ms(T.net_cpu_ms_per_request.broker - T.net_cpu_ms_per_request.floor)} per request over the floor (as a ratio ${x_(T.net_cpu_ratio.median)}, but runs range ${rng(T.net_cpu_ratio.range)}: differences of small noisy figures)`,
        '—',
      ])
    }
  }
  const R = r.refresh as Any[] | undefined
  if (R?.length) {
    for (const row of R) {
      const s = row.summary
      rows.push([
        `Refresh, ${int(row.n)} concurrent callers on one session`,
        `${n(s.broker_refreshes_at_provider, 0)} refresh at the provider (median; max ${s.broker_max_refreshes_at_provider} over ${row.broker.length} rounds); slowest caller ${ms(s.broker_slowest_ms)}`,
        `naive client: ${int(s.naive_refresh_requests_at_provider)} refresh requests, ${int(s.naive_invalid_grant)} invalid_grant, ${int(s.naive_forked_chains)} forked chains, session survived ${s.naive_session_survived}; slowest ${ms(s.naive_slowest_ms)}`,
        `slowest caller ${x_(s.slowest_ratio_broker_over_naive)}`,
        '1 refresh',
      ])
    }
  }
  const S = r.scale
  if (S?.steps?.length) {
    const steps = S.steps as Any[]
    rows.push([
      `Token fetch spread over ${steps.map((s) => int(s.sessions)).join(' / ')} sessions, 10 connections`,
      steps.map((s) => `p50 ${ms(s.load.latency_ms.p50)} p99 ${ms(s.load.latency_ms.p99)}`).join(' / '),
      '—',
      `p50 at ${int(steps.at(-1).sessions)} ÷ at ${int(steps[0].sessions)}: ${x_(steps.at(-1).load.latency_ms.p50 / steps[0].load.latency_ms.p50)}`,
      '—',
    ])
    rows.push([
      'Memory (runtime workerd RSS) per live session object',
      steps
        .map((s) => `${kib(s.rss_kib_per_live_object)} (${int(s.live_session_objects?.after_sweep)} live of ${int(s.sessions)})`)
        .join(' / '),
      '—',
      '—',
      '—',
    ])
  }
  const B = r.bundle
  if (B) {
    const g = B.as_configured.wrangler_reported?.gzip_kib ?? B.as_configured.gzip_kib
    const gm = B.minified.wrangler_reported?.gzip_kib ?? B.minified.gzip_kib
    rows.push([
      'Bundle (`wrangler deploy --dry-run`)',
      `${kib(B.as_configured.raw_kib)} raw, **${kib(g)} gzip**`,
      Math.abs(g - gm) < 0.05
        ? 'the same as `--minify` (wrangler.toml minifies)'
        : `with --minify: ${kib(B.minified.raw_kib)} raw, ${kib(gm)} gzip`,
      '—',
      `≤ 100 KiB gzip: ${g <= 100 ? 'met' : gm <= 100 ? 'not met (met with --minify)' : 'not met'}`,
    ])
    rows.push([
      'Startup (`wrangler check startup`, local CPU profile)',
      `${ms(B.startup_active_ms)} active CPU (${ms(B.startup_window_ms)} profile window)`,
      '—',
      '—',
      '—',
    ])
  }
  return rows
}

export function headlineTable(doc: Any): string {
  return table(['measure', 'broker', 'compared with', 'ratio (same run)', 'target'], headlineRows(doc))
}

/** The short table for the README: one line per measurement. */
function readmeRows(doc: Any): string[][] {
  const r = doc.results as Any
  const rows: string[][] = []
  const L = r.login
  if (L) {
    rows.push([
      'Login redirect, warm (`GET /v1/login` → 302)',
      `${int(L.broker.loaded.rps)} req/s at 10 connections, p50 ${ms(L.broker.idle.p50)} unloaded; **${n(L.broker.providerRequestsPerRequest, 0)} provider requests** (@hono/oidc-auth: ${n(L.hono.providerRequestsPerRequest, 0)})`,
      `**${x_(L.ratio.loadedRps.median)}** the throughput of @hono/oidc-auth, p50 ${x_(L.ratio.idleP50.median)}`,
      '0 subrequests',
    ])
  }
  const T = r.token
  if (T) {
    rows.push([
      'Cached token fetch (`POST /v1/session/token`)',
      `p50 ${ms(T.broker.idle.p50)}, p99 ${ms(T.broker.idle.p99)} unloaded; ${ms(T.broker.cpuMsPerRequest?.workerd)} workerd CPU per request (floor ${ms(T.floor.cpuMsPerRequest?.workerd)}, a constant response ${ms(T.plain.cpuMsPerRequest?.workerd)})`,
      `**${x_(T.ratio.idleP50.median)}** the floor's p50 (Worker → DO RPC → constant); CPU ${x_(T.ratio.cpuPerRequest?.median)}`,
      '≤ 1.5×',
    ])
  }
  const R = (r.refresh as Any[] | undefined)?.at(-1)
  if (R) {
    const s = R.summary
    rows.push([
      `${int(R.n)} concurrent refreshes of one session`,
      `**${n(s.broker_refreshes_at_provider, 0)} refresh** at the provider (max ${s.broker_max_refreshes_at_provider} in ${R.broker.length} rounds), all callers answered`,
      `naive client: ${int(s.naive_refresh_requests_at_provider)} refreshes, ${int(s.naive_invalid_grant)} \`invalid_grant\`, ${int(s.naive_forked_chains)} forked chains; session survived in ${s.naive_session_survived} rounds`,
      '1 refresh',
    ])
  }
  const S = r.scale
  if (S?.steps?.length) {
    const last = S.steps.at(-1)
    const first = S.steps[0]
    rows.push([
      `Token fetch over ${int(last.sessions)} sessions`,
      `p50 ${ms(last.load.latency_ms.p50)}, p99 ${ms(last.load.latency_ms.p99)} (10 connections, round-robin); ${kib(last.rss_kib_per_live_object)} RSS per live session object`,
      `p50 ${x_(last.load.latency_ms.p50 / first.load.latency_ms.p50)} the figure at ${int(first.sessions)} sessions (evicted sessions cold-start)`,
      '—',
    ])
  }
  const B = r.bundle
  if (B) {
    const g = B.as_configured.wrangler_reported?.gzip_kib ?? B.as_configured.gzip_kib
    const gm = B.minified.wrangler_reported?.gzip_kib ?? B.minified.gzip_kib
    rows.push([
      'Bundle',
      Math.abs(g - gm) < 0.05
        ? `${kib(g)} gzip (minified), ${kib(B.as_configured.raw_kib)} raw`
        : `${kib(g)} gzip (${kib(gm)} with \`--minify\`)`,
      '—',
      `≤ 100 KiB gzip: ${g <= 100 ? 'met' : gm <= 100 ? 'met only minified' : 'not met'}`,
    ])
    rows.push(['Startup', `${ms(B.startup_active_ms)} CPU (\`wrangler check startup\`, local)`, '—', '—'])
  }
  return rows
}

export function readmeSection(doc: Any): string {
  return [
    '## Performance',
    '',
    `\`npm run bench\` measures the broker locally — wrangler dev (workerd) on a ${doc.machine.cores}-core machine, the embedded oidc-provider on loopback — ` +
      'against the alternatives in the same run. Absolute times on a shared machine are noise; the comparisons are ratios of two systems measured ' +
      `in the same run (median of ${doc.settings.runs} runs). Method, spreads and every figure: [docs/benchmarks.md](docs/benchmarks.md), raw: [docs/benchmarks.json](docs/benchmarks.json).`,
    '',
    table(['measure', 'broker', 'compared in the same run', 'target'], readmeRows(doc)),
  ].join('\n')
}

function sectionLogin(doc: Any): string {
  const L = doc.results.login
  if (!L) return ''
  const rows = ['broker', 'hono'].map((k) => {
    const s = L[k]
    return [
      k === 'hono' ? '@hono/oidc-auth 1.8' : 'broker',
      `${int(s.loaded.rps)} (${int(s.loaded.rpsRange[0])}–${int(s.loaded.rpsRange[1])})`,
      ms(s.loaded.p50),
      ms(s.loaded.p99),
      ms(s.idle.p50),
      ms(s.idle.p99),
      n(s.providerRequestsPerRequest, 2),
      s.cpuMsPerRequest ? ms(s.cpuMsPerRequest.workerd) : '—',
    ]
  })
  const rat = L.ratio
  return `## 1. Login redirect

\`${L.request.broker}\` against \`${L.request.hono}\` of a Worker using @hono/oidc-auth (scripts/bench/hono-oidc-auth/), both
configured against the same oidc-provider, each run by its own \`wrangler dev\`. Both answer 302 to the provider's
authorization endpoint with PKCE S256, state and nonce (broker: ${L.shape.broker.set_cookies} Set-Cookie, the state sealed as a JWE;
@hono/oidc-auth: ${L.shape.hono.set_cookies} Set-Cookies). "Provider requests per request" counts every request the provider's HTTP server
received during the load, divided by the answers served: @hono/oidc-auth keeps the discovery document only in the request's context,
so it fetches it for every login; the broker serves it from isolate memory.

${table(['system', 'req/s, 10 conn. (range)', 'p50', 'p99', 'p50, 1 conn.', 'p99, 1 conn.', 'provider requests / request', 'workerd CPU / request'], rows)}

Ratios broker ÷ @hono/oidc-auth per run (median, range over ${rat.loadedRps.perRun.length} runs): throughput ${x_(rat.loadedRps.median)} (${rng(rat.loadedRps.range)}),
p50 latency at 10 connections ${x_(rat.loadedP50.median)} (${rng(rat.loadedP50.range)}), p99 ${x_(rat.loadedP99.median)} (${rng(rat.loadedP99.range)});
unloaded p50 ${x_(rat.idleP50.median)} (${rng(rat.idleP50.range)}), p99 ${x_(rat.idleP99.median)} (${rng(rat.idleP99.range)})${rat.cpuPerRequest ? `; workerd CPU per request ${x_(rat.cpuPerRequest.median)} (${rng(rat.cpuPerRequest.range)})` : ''}.
The provider runs on the same two cores: @hono/oidc-auth's discovery fetch costs it provider CPU here, and a network round trip in production.
`
}

function sectionToken(doc: Any): string {
  const T = doc.results.token
  if (!T) return ''
  const label: Record<string, string> = {
    broker: 'broker',
    floor: 'floor',
    plain: 'plain (no DO: the dev stack alone)',
    'plain-log': 'plain + one log line',
  }
  const rows = ['broker', 'floor', 'plain', 'plain-log']
    .filter((k) => T[k])
    .map((k) => {
      const s = T[k]
      return [
        label[k]!,
        `${int(s.loaded.rps)} (${int(s.loaded.rpsRange[0])}–${int(s.loaded.rpsRange[1])})`,
        ms(s.loaded.p50),
        ms(s.loaded.p99),
        ms(s.idle.p50),
        ms(s.idle.p99),
        s.cpuMsPerRequest ? ms(s.cpuMsPerRequest.workerd) : '—',
        s.cpuMsPerRequest ? ms(s.cpuMsPerRequest.wrangler) : '—',
        n(s.providerRequestsPerRequest, 2),
      ]
    })
  const rat = T.ratio
  return `## 2. Cached token fetch

\`POST /v1/session/token\` with \`Authorization: Bearer <handle>\`, the handle from a real login (GET /v1/login → the provider →
/v1/callback → return_to?code → POST /v1/sessions, ${ms(T.login_ms)}), the token cached (the answer is never \`refreshed\`; the token is
the same after the load: ${T.same_token_after_load}). The floor (scripts/bench/floor/) is a Worker whose fetch handler makes one RPC to a
Durable Object returning a constant of the same shape — no routing, validation or hashing. A third reference, *plain*, is the
same Worker answering the constant without the Durable Object: what wrangler dev's request path (its proxy workerd, Miniflare's
entry worker, workerd's HTTP server) costs by itself; *plain + one log line* adds one \`console.log\` of a JSON line like the one the
broker writes for every request by default (\`LOG_LEVEL=info\`) — the reason the bench runs the broker with \`LOG_LEVEL=warn\`.

${table(['system', 'req/s, 10 conn. (range)', 'p50', 'p99', 'p50, 1 conn.', 'p99, 1 conn.', 'workerd CPU / req', 'wrangler (node) CPU / req', 'provider requests / request'], rows)}

Ratios broker ÷ floor per run (median, range): unloaded p50 **${x_(rat.idleP50.median)}** (${rng(rat.idleP50.range)}), p99 ${x_(rat.idleP99.median)} (${rng(rat.idleP99.range)});
at 10 connections p50 ${x_(rat.loadedP50.median)} (${rng(rat.loadedP50.range)}), p99 ${x_(rat.loadedP99.median)} (${rng(rat.loadedP99.range)}), throughput ${x_(rat.loadedRps.median)} (${rng(rat.loadedRps.range)})${rat.cpuPerRequest ? `; workerd CPU per request ${x_(rat.cpuPerRequest.median)} (${rng(rat.cpuPerRequest.range)})` : ''}. Target ≤ 1.5×.

CPU time: local workerd reports no per-request CPU time, so the bench reads utime + stime of the \`wrangler dev\` process group
from \`/proc/<pid>/stat\` (10 ms ticks) before and after each 10-connection run and divides by the requests served. The workerd
figure sums both workerd processes wrangler dev starts (the proxy in front, the runtime with the Worker) and so includes the dev
stack; subtracting *plain* leaves what the Worker and its Durable Object call cost: broker ${ms(T.net_cpu_ms_per_request.broker)},
floor ${ms(T.net_cpu_ms_per_request.floor)}, ratio ${x_(T.net_cpu_ratio.median)} (per run ${rng(T.net_cpu_ratio.range)}). One log line costs
${ms(T.log_line_cpu_ms)} of workerd CPU under wrangler dev, plus ${ms(T.log_line_wrangler_cpu_ms)} in wrangler's node process, which receives and
prints it — a dev-stack cost that would otherwise dominate the broker's figures, hence \`LOG_LEVEL=warn\` here.
The floor itself is ${x_(T.ratio_floor_over_plain.idleP50.median)} plain's unloaded p50. The tick resolution (10 ms over a thousand or more
requests per run) is under 0.01 ms per request; the per-run ranges show the real noise, which the differences above amplify — the
full-stack CPU ratio is the robust figure. The node column is wrangler's own process.
`
}

function sectionRefresh(doc: Any): string {
  const R = doc.results.refresh as Any[] | undefined
  if (!R?.length) return ''
  const rows = R.map((row) => {
    const s = row.summary
    return [
      int(row.n),
      `${n(s.broker_refreshes_at_provider, 0)} (max ${s.broker_max_refreshes_at_provider})`,
      s.broker_all_ok ? `all ${int(row.n)}` : 'no',
      ms(s.broker_p50_ms),
      ms(s.broker_slowest_ms),
      int(s.naive_refresh_requests_at_provider),
      int(s.naive_successes),
      int(s.naive_invalid_grant),
      int(s.naive_forked_chains),
      int(s.naive_grants_revoked),
      s.naive_session_survived,
      ms(s.naive_slowest_ms),
      `${x_(s.slowest_ratio_broker_over_naive)}`,
    ]
  })
  return `## 3. Refresh coalescing

N callers at once (one socket each, all sent in the same tick) on one session. Broker: \`POST /v1/session/refresh\`, a fresh session
per round. Naive client (oauth4webapi from Node, the same provider with refresh-token rotation): each caller reads the stored refresh
token and calls the token endpoint itself, no lock, last writer wins the store. The provider counts every \`POST /token\` and
oidc-provider's grant events (success, error, grant revoked). "Forked chains": successful rotations beyond the first that presented the
same parent token — each mints a sibling refresh token. "Session survived": afterwards, the provider still accepts the stored refresh
token (introspection). Medians over ${doc.settings.refreshRounds} round(s), both systems in each round.

${table(['N', 'broker: refreshes at provider', 'broker: callers answered', 'broker p50', 'broker slowest', 'naive: refresh requests', 'naive: successes', 'naive: invalid_grant', 'naive: forked chains', 'naive: grants revoked', 'naive: session survived', 'naive slowest', 'slowest broker ÷ naive'], rows)}

oidc-provider detects reuse of a rotated refresh token (\`refresh token already used\`) and revokes the whole grant. So the naive
client sends N refresh requests; one wins, the other N − 1 get \`invalid_grant\`, and the first of those revokes the grant — including
the refresh token the winner just stored: the session is gone and the user must log in again. Requests that read the token before
the winner's rotation is stored would each fork the chain (a sibling refresh token); with oidc-provider's in-memory store a rotation
completes within one event-loop turn, so none forked here — a provider with a networked store leaves a window for them. The broker's
Session object lets exactly one refresh out; every other caller awaits it and gets the same token.

${(() => {
  const over = R.flatMap((row) => (row.summary.broker_rounds_with_more_than_one_refresh ?? []).map((o: Any) => ({ n: row.n, ...o })))
  if (!over.length) return ''
  return `**More than one refresh.** ${over.map((o: Any) => `N = ${int(o.n)}: ${o.refreshes} refreshes at the provider in one round (slowest caller ${ms(o.slowest_ms)}, ${o.distinct_access_tokens} distinct access tokens, refresh errors at the provider: ${Object.keys(o.refresh_errors ?? {}).length ? JSON.stringify(o.refresh_errors) : 'none'})`).join('; ')}. A refresh that finished less than ${5} s ago answers further refresh requests (REFRESH_COALESCE_SECONDS); when delivering the whole burst through wrangler dev takes longer than that on this machine, the callers that reach the Session object after the window start one more refresh — serialized behind the first, with its rotated refresh token, so no grant is refused. The guarantee is one refresh per burst that arrives within the window.\n\n`
})()}Slowest caller: every broker caller is a request through wrangler dev's stack to a Worker and its Durable Object (a few ms of CPU each
on this machine, see §2), so N callers queue on two cores and the slowest waits for about N of them; the naive callers go straight to the
provider from the load generator. The broker's own critical path is one refresh at the provider.
`
}

function sectionScale(doc: Any): string {
  const S = doc.results.scale
  if (!S?.steps?.length) return ''
  const rows = (S.steps as Any[]).map((s) => [
    int(s.sessions),
    `${n(s.create_seconds, 1)} s`,
    `${int(s.live_session_objects?.after_create)} / ${int(s.live_session_objects?.after_sweep)} / ${int(s.live_session_objects?.after_load)}`,
    ms(s.sweep_latency_ms.p50),
    ms(s.sweep_latency_ms.p99),
    int(s.load.rps),
    ms(s.load.latency_ms.p50),
    ms(s.load.latency_ms.p99),
    s.load.cpu_ms_per_request ? ms(s.load.cpu_ms_per_request.workerd) : '—',
    `${int(s.rss_mib.before_sessions)} → ${int(s.rss_mib.after_sweep)} MiB`,
    kib(s.rss_kib_per_session),
    kib(s.rss_kib_per_live_object),
  ])
  return `## 4. Scale

Sessions are created through \`POST /v1/sessions/import\` (${S.creators} in parallel) with real tokens: for each, a code flow straight at the
provider for the broker's own client (the bench configures it as a static registration so it can hold its secret), then the import,
which checks the access token at userinfo and creates the Session object. A real browser login takes ${ms(S.real_login_ms)} here; an import with
its code flow ${ms(S.import_ms.per_session_p50)} (${int(S.import_ms.sessions_per_second)} sessions/s with ${S.creators} in parallel). The steps are cumulative and capped by a
creation budget of ${doc.settings.scaleCreateBudgetS} s (a step that does not fit is cut to the largest round count that does). At each step: a sweep that fetches
each session's token once (8 at a time, the first call after creation; past 2,000 sessions an evenly spaced sample of 2,000), then ${doc.settings.scaleLoadSeconds} s of autocannon (10 connections) with requests
round-robin over all sessions; RSS of ${S.rss_of} (\`/proc/<pid>/status\`), the baseline taken on a fresh broker (its own
\`wrangler dev\`, empty state, the same bundle and configuration) after a warm-up, before its first session.

${table(['sessions', 'created in', 'live objects: after creation / sweep / load', 'sweep p50', 'sweep p99', 'load req/s', 'load p50', 'load p99', 'workerd CPU / req', 'runtime workerd RSS (after the sweep)', 'RSS / session', 'RSS / live object'], rows)}
${S.creation_failures ? `\nCreation failures: ${S.creation_failures}.\n` : ''}
"Live objects" are the Session Durable Objects whose SQLite database workerd has open (counted from \`/proc/<pid>/fd\`). workerd
evicts idle objects, so memory follows the sessions in use, not the sessions that exist: an evicted session costs its SQLite file on disk
and, on its next call, a cold start (load the record, decrypt the token): past a few thousand sessions most calls of the sweep and
of the round-robin load are cold starts, which is what their latency shows. RSS per live object divides the growth
over the baseline by the live objects after the sweep. In production each object lives on the machine where it was created, so this is a
figure for one machine's memory per active session, not for the fleet.
`
}

function sectionBundle(doc: Any): string {
  const B = doc.results.bundle
  if (!B) return ''
  const w = (s: Any) => (s.wrangler_reported ? `${kib(s.wrangler_reported.total_upload_kib)} / ${kib(s.wrangler_reported.gzip_kib)}` : '—')
  return `## 5. Bundle and startup

\`wrangler deploy --dry-run --outdir\` (the bundle a deploy uploads), measured on the same snapshot the other sections ran.

${table(
  ['build', 'index.js raw', 'gzip -9 (node zlib)', 'wrangler: total upload / gzip'],
  [
    ['as configured (wrangler.toml)', kib(B.as_configured.raw_kib), kib(B.as_configured.gzip_kib), w(B.as_configured)],
    ['`--minify`', kib(B.minified.raw_kib), kib(B.minified.gzip_kib), w(B.minified)],
  ],
)}

Target ≤ ${B.target_gzip_kib} KiB gzip. Startup: wrangler prints "Worker Startup Time" only for a real deploy (the platform measures it);
locally the figure wrangler gives is \`wrangler check startup\`, a CPU profile of the Worker's startup phase in local workerd:
${ms(B.startup_active_ms)} active CPU (median of ${B.startup_runs.length}; profile window ${ms(B.startup_window_ms)}), runs: ${B.startup_runs.map((s: Any) => ms(s.active_ms)).join(', ')}.
`
}

export function renderMarkdown(doc: Any): string {
  const errs = Object.entries(doc.errors ?? {})
  return `# Benchmarks

Generated by \`npm run bench\` (scripts/bench/run.ts) on ${doc.generated_at.slice(0, 10)}, ${doc.mode} mode, in ${doc.duration_s} s.
Machine: ${doc.machine.cores} cores (${doc.machine.cpu}), ${doc.machine.memory_gib} GiB. Node ${doc.versions.node}, wrangler ${doc.versions.wrangler},
workerd ${doc.versions.workerd}, oidc-provider ${doc.versions['oidc-provider']}, @hono/oidc-auth ${doc.versions['@hono/oidc-auth']}, autocannon ${doc.versions.autocannon}.
Measured: ${doc.source?.measured ?? 'the working tree'}${doc.source?.note ? ` — ${doc.source.note}` : ''}. Raw figures: [benchmarks.json](benchmarks.json).

**How to read it.** Everything runs on one 2-core machine: the load generator, the provider (its own Node process) and each
Worker's \`wrangler dev\` (workerd) share it, so absolute times are noise. Every comparison is a ratio of two systems measured in
the same run — each run measures every system, interleaved in ${5} short slices each, in rotating order, so that interference from
other work on the machine hits all alike — and the tables give the median over ${doc.settings.runs} runs with the range (min–max).
Latency percentiles are computed from every response (autocannon's per-response timings, sub-millisecond); "10 connections" is a
closed loop of 10 keep-alive connections for ${doc.settings.loadSeconds} s (it saturates the machine, so it measures cost), "1 connection" one
connection for ${doc.settings.idleSeconds} s (it measures latency). All three Workers are bundled once at the start with
\`wrangler deploy --dry-run\` and served from that snapshot (\`no_bundle\`), state in a temporary \`--persist-to\`; the broker runs with
\`TOKEN_ENCRYPTION_KEY\` set (tokens sealed at rest), as in production, and \`LOG_LEVEL=warn\` (see §2). wrangler dev runs with
\`--log-level warn\` (no access log: in dev it is an HTTP call from workerd to wrangler's node process per request) and without its
local trace collector and explorer (\`X_LOCAL_OBSERVABILITY=false\`, \`X_LOCAL_EXPLORER=false\`: every request's trace written to a
local SQLite store) — dev-only work, the same for every Worker here, part of none. What remains of wrangler dev's request path
(a proxy workerd in front, Miniflare's entry worker) is still several times the cost of a trivial Worker; §2 measures it (*plain*).

## Headline

${headlineTable(doc)}

${sectionLogin(doc)}
${sectionToken(doc)}
${sectionRefresh(doc)}
${sectionScale(doc)}
${sectionBundle(doc)}
${errs.length ? `## Sections that failed\n\n${errs.map(([k, v]) => `- ${k}: \`${String(v).split('\n')[0]}\``).join('\n')}\n` : ''}`
}
