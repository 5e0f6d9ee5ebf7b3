// `npm run bench`: everything local, on loopback. Starts the provider (own process), builds the
// broker, the @hono/oidc-auth comparison and the floor Worker with `wrangler deploy --dry-run`
// and serves each snapshot with its own `wrangler dev`; runs the five measurements; writes
// docs/benchmarks.json (raw figures) and docs/benchmarks.md, and prints a README section.
// BENCH_QUICK=1: a short run for trying it (written to $TMPDIR/broker-bench-quick/, not docs/;
// BENCH_OUT=<dir> overrides either). Everything started is stopped at the end, on failure and
// on Ctrl-C.
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Ctx, Settings } from './lib/context.ts'
import type { OAuthClient } from './lib/flows.ts'
import { type Built, buildWorker, cleanupAll, configForBundle, freePort, ROOT, startDev, startProvider } from './lib/procs.ts'
import { exportRef, type Source, workingTree } from './lib/source.ts'
import { readmeSection, renderMarkdown } from './report.ts'
import { bundleSection } from './sections/bundle.ts'
import { loginSection } from './sections/login.ts'
import { refreshSection } from './sections/refresh.ts'
import { scaleSection } from './sections/scale.ts'
import { tokenSection } from './sections/token.ts'

// `node scripts/bench/run.ts --render`: only re-render docs/benchmarks.md and the README section
// from docs/benchmarks.json (no measurement).
if (process.argv.includes('--render')) {
  const doc = JSON.parse(readFileSync(join(ROOT, 'docs/benchmarks.json'), 'utf8')) as Parameters<typeof renderMarkdown>[0]
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), renderMarkdown(doc))
  process.stdout.write(readmeSection(doc) + '\n')
  process.exit(0)
}

const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true'
const settings: Settings = quick
  ? {
      quick,
      runs: 2,
      loadSeconds: 1.5,
      idleSeconds: 1,
      connections: 10,
      maxRequestsPerRun: 50_000,
      refreshCallers: [10, 100],
      refreshRounds: 1,
      scaleSteps: [10, 200],
      scaleCreateBudgetS: 30,
      scaleLoadSeconds: 1.5,
      startupRepeats: 1,
    }
  : {
      quick,
      runs: 5,
      loadSeconds: 2.5,
      idleSeconds: 1.5,
      connections: 10,
      maxRequestsPerRun: 200_000,
      refreshCallers: [10, 100, 1000],
      refreshRounds: 3,
      scaleSteps: [10, 1000, 10_000],
      scaleCreateBudgetS: 190,
      scaleLoadSeconds: 3,
      startupRepeats: 3,
    }
const WATCHDOG_MS = (quick ? 4 : 14) * 60_000

const tmp = mkdtempSync(join(tmpdir(), 'broker-bench-'))
const logFile = join(tmp, 'bench.log')
const log = (msg: string) => {
  process.stderr.write(msg + '\n')
  appendFileSync(logFile, msg + '\n')
}

let exiting = false
async function finish(code: number) {
  if (exiting) return
  exiting = true
  await cleanupAll()
  if (code === 0) rmSync(tmp, { recursive: true, force: true })
  else log(`logs kept in ${tmp}`)
  process.exit(code)
}
process.on('SIGINT', () => void finish(130))
process.on('SIGTERM', () => void finish(143))
process.on('SIGHUP', () => void finish(129))
setTimeout(() => {
  log(`! the bench ran over ${WATCHDOG_MS / 60_000} minutes: stopping`)
  void finish(2)
}, WATCHDOG_MS).unref()

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

async function main() {
  const started = Date.now()
  log(`bench${quick ? ' (quick)' : ''}: scratch space ${tmp}`)
  const [brokerPort, honoPort, floorPort, scalePort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const brokerUrl = `http://127.0.0.1:${brokerPort}`
  const secret = () => randomBytes(24).toString('base64url')
  const brokerClient: OAuthClient = { client_id: 'bench-broker', client_secret: secret(), redirect_uri: `${brokerUrl}/v1/callback` }
  const honoClient: OAuthClient = {
    client_id: 'bench-hono-oidc-auth',
    client_secret: secret(),
    redirect_uri: `http://127.0.0.1:${honoPort}/callback`,
  }
  // The naive client never receives its redirect: the code is read from the Location header.
  const naiveClient: OAuthClient = { client_id: 'bench-naive', client_secret: secret(), redirect_uri: 'http://127.0.0.1:9/naive/callback' }

  // Snapshots of the three Workers: what is measured cannot change while other work goes on.
  let source: Source = process.env.BENCH_REF ? exportRef(process.env.BENCH_REF, join(tmp, 'source')) : workingTree()
  let sourceNote = ''
  let brokerBuilt: Built
  try {
    brokerBuilt = await buildWorker(join(source.root, 'wrangler.toml'), join(tmp, 'broker-build'))
  } catch (e) {
    if (process.env.BENCH_REF) throw e
    sourceNote = `the working tree did not build (${
      String((e as Error).message)
        .replace(/\x1b\[[0-9;]*m/g, '')
        .split('\n')
        .find((l) => /ERROR/.test(l))
        ?.trim() ?? 'build error'
    }), so HEAD was measured`
    log(`! ${sourceNote}`)
    source = exportRef('HEAD', join(tmp, 'source'))
    brokerBuilt = await buildWorker(join(source.root, 'wrangler.toml'), join(tmp, 'broker-build'))
  }
  log(`measuring ${source.label}`)
  const provider = await startProvider(
    [
      // The broker's client, for the main broker and the scale section's fresh one.
      {
        client_id: brokerClient.client_id,
        client_secret: brokerClient.client_secret,
        redirect_uris: [brokerClient.redirect_uri, `http://127.0.0.1:${scalePort}/v1/callback`],
      },
      ...[honoClient, naiveClient].map((c) => ({
        client_id: c.client_id,
        client_secret: c.client_secret,
        redirect_uris: [c.redirect_uri],
      })),
    ],
    join(tmp, 'provider.log'),
    join(source.root, 'local/provider.ts'),
  )
  log(`provider ${provider.issuer} (pid ${provider.pid})`)
  const honoBuilt = await buildWorker(join(import.meta.dirname, 'hono-oidc-auth/wrangler.toml'), join(tmp, 'hono-build'))
  const floorBuilt = await buildWorker(join(import.meta.dirname, 'floor/wrangler.toml'), join(tmp, 'floor-build'))
  const wranglerVersion = /wrangler (\d+\.\d+\.\d+)/.exec(brokerBuilt.stdout)?.[1] ?? versionOf('wrangler')
  const workerdVersion = versionOf('workerd')
  log(`built: broker ${(brokerBuilt.stdout.match(/Total Upload: [^\n]+/) ?? [''])[0]}`)

  const demo = { id: 'demo', secret: 'demo-secret' }
  const returnTo = `${brokerUrl}/demo/callback`
  const persist = (name: string) => {
    const d = join(tmp, `state-${name}`)
    mkdirSync(d)
    return d
  }
  const brokerConfig = configForBundle(join(source.root, 'wrangler.toml'), brokerBuilt.file, join(tmp, 'broker.wrangler.toml'))
  const startBroker = (name: string, port: number) => {
    const url = `http://127.0.0.1:${port}`
    return startDev({
      name,
      config: brokerConfig,
      port,
      persistTo: persist(name),
      logFile: join(tmp, `${name}.log`),
      readyPath: '/healthz',
      workerName: `bench-${name}`,
      vars: {
        BROKER_APPS: JSON.stringify([
          {
            id: demo.id,
            secret_sha256: createHash('sha256').update(demo.secret).digest('hex'),
            return_urls: [`${url}/demo/callback`],
            client_name: 'Bench demo app',
            client_uri: url,
          },
        ]),
        ALLOW_INSECURE_ISSUERS: 'true',
        // Failures only: under wrangler dev one console.log line costs ~1 ms of workerd CPU and ~2 ms
        // in wrangler's node process (measured in §2, "plain + one log line"), a dev-only cost.
        LOG_LEVEL: 'warn',
        STATE_SECRET: randomBytes(32).toString('base64url'),
        TOKEN_ENCRYPTION_KEY: `bench:${randomBytes(32).toString('base64url')}`,
        STATIC_REGISTRATIONS: JSON.stringify({
          [provider.issuer]: {
            client_id: brokerClient.client_id,
            client_secret: brokerClient.client_secret,
            token_endpoint_auth_method: 'client_secret_basic',
          },
        }),
      },
    })
  }
  const [broker, hono, floor] = await Promise.all([
    startBroker('broker', brokerPort),
    startDev({
      name: 'hono-oidc-auth',
      config: configForBundle(join(import.meta.dirname, 'hono-oidc-auth/wrangler.toml'), honoBuilt.file, join(tmp, 'hono.wrangler.toml')),
      port: honoPort,
      persistTo: persist('hono'),
      logFile: join(tmp, 'hono.log'),
      readyPath: '/healthz',
      vars: {
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID: honoClient.client_id,
        OIDC_CLIENT_SECRET: honoClient.client_secret,
        OIDC_AUTH_SECRET: randomBytes(32).toString('base64url'),
        OIDC_SCOPES: 'openid offline_access',
      },
    }),
    startDev({
      name: 'floor',
      config: configForBundle(join(import.meta.dirname, 'floor/wrangler.toml'), floorBuilt.file, join(tmp, 'floor.wrangler.toml')),
      port: floorPort,
      persistTo: persist('floor'),
      logFile: join(tmp, 'floor.log'),
      readyPath: '/',
      vars: {},
    }),
  ])
  log(`wrangler dev: broker ${broker.url}, @hono/oidc-auth ${hono.url}, floor ${floor.url}`)

  const ctx: Ctx = {
    settings,
    tmp,
    provider,
    broker,
    hono,
    floor,
    target: { url: brokerUrl, app: demo, returnTo, issuer: provider.issuer },
    brokerClient,
    naiveClient,
    log,
    freshBroker: async () => {
      const dev = await startBroker('broker-scale', scalePort)
      return { dev, target: { url: dev.url, app: demo, returnTo: `${dev.url}/demo/callback`, issuer: provider.issuer } }
    },
  }

  const results: Record<string, unknown> = {}
  const errors: Record<string, string> = {}
  const section = async (name: string, fn: () => Promise<unknown>) => {
    const t = Date.now()
    try {
      results[name] = await fn()
    } catch (e) {
      errors[name] = (e as Error).stack ?? String(e)
      log(`! section ${name} failed: ${(e as Error).message}`)
    }
    log(`  (${name}: ${((Date.now() - t) / 1000).toFixed(0)} s)`)
  }
  await section('login', () => loginSection(ctx))
  await section('token', () => tokenSection(ctx))
  await section('refresh', () => refreshSection(ctx))
  await section('scale', () => scaleSection(ctx))
  await section('bundle', () => bundleSection(ctx, brokerBuilt, source.root))

  const doc = {
    generated_at: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    source: { measured: source.label, commit: source.commit, ...(sourceNote ? { note: sourceNote } : {}) },
    duration_s: Math.round((Date.now() - started) / 1000),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30) },
    versions: {
      node: process.version,
      wrangler: wranglerVersion,
      workerd: workerdVersion,
      'oidc-provider': versionOf('oidc-provider'),
      '@hono/oidc-auth': versionOf('@hono/oidc-auth'),
      autocannon: versionOf('autocannon'),
      hono: versionOf('hono'),
      oauth4webapi: versionOf('oauth4webapi'),
    },
    settings,
    results,
    errors,
  }
  // A quick run does not overwrite the real figures: it writes to a temporary folder (or BENCH_OUT).
  const outDir = process.env.BENCH_OUT ?? (quick ? join(tmpdir(), 'broker-bench-quick') : join(ROOT, 'docs'))
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, 'benchmarks.json'), JSON.stringify(doc, null, 2) + '\n')
  writeFileSync(join(outDir, 'benchmarks.md'), renderMarkdown(doc))
  log(`wrote ${join(outDir, 'benchmarks.md')} and benchmarks.json (${doc.duration_s} s)`)
  process.stdout.write('\n' + readmeSection(doc) + '\n')
  return Object.keys(errors).length ? 1 : 0
}

main().then(
  (code) => finish(code),
  (e: unknown) => {
    log(`! bench failed: ${(e as Error).stack ?? String(e)}`)
    void finish(1)
  },
)
