// `npm start`: the broker under `wrangler dev` with an embedded default — a local OpenID
// provider (oidc-provider on loopback, auto-login, dynamic registration) and a demo app — so
// a newcomer needs no account and no config. Ctrl-C stops both.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalProvider } from './provider.ts'

const BROKER_PORT = Number(process.env.PORT ?? 8787)
const PROVIDER_PORT = Number(process.env.PROVIDER_PORT ?? 9090)
const broker = `http://127.0.0.1:${BROKER_PORT}`

const provider = await startLocalProvider({ port: PROVIDER_PORT }).catch(() => startLocalProvider({ port: 0 }))
const demo = { id: 'demo', secret: process.env.DEMO_APP_SECRET ?? 'demo-secret' }
const apps = [
  {
    id: demo.id,
    secret_sha256: createHash('sha256').update(demo.secret).digest('hex'),
    // The last one is `npm run login`'s loopback listener.
    return_urls: [`${broker}/demo/callback`, `http://localhost:${BROKER_PORT}/demo/callback`, 'http://127.0.0.1:8976/callback'],
    client_name: 'Broker demo app',
    client_uri: broker,
  },
]
const state = mkdtempSync(join(tmpdir(), 'broker-dev-'))
const vars: Record<string, string> = {
  BROKER_APPS: JSON.stringify(apps),
  ALLOW_INSECURE_ISSUERS: 'true',
  STATE_SECRET: randomBytes(32).toString('base64url'),
  TOKEN_ENCRYPTION_KEY: `dev:${randomBytes(32).toString('base64url')}`,
  LOCAL_ISSUER: provider.issuer,
  // The demo app at `/` (src/demo/) logs in as this app.
  DEMO_APP_ID: demo.id,
  DEMO_APP_SECRET: demo.secret,
}
const args = ['dev', '--ip', '127.0.0.1', '--port', String(BROKER_PORT), '--persist-to', state]
for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`)

// Its own process group, so that stopping it takes wrangler's workerd along.
const dev = spawn('wrangler', args, {
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
})

let stopping = false
async function stop(code: number) {
  if (stopping) return
  stopping = true
  try {
    if (dev.pid) process.kill(-dev.pid, 'SIGTERM')
  } catch {}
  await provider.close().catch(() => {})
  rmSync(state, { recursive: true, force: true })
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
dev.on('exit', (code) => void stop(code ?? 1))

for (let i = 0; i < 120; i++) {
  const up = await fetch(`${broker}/healthz`)
    .then((r) => r.ok)
    .catch(() => false)
  if (up) break
  await new Promise((r) => setTimeout(r, 500))
}

const basic = Buffer.from(`${demo.id}:${demo.secret}`).toString('base64')
console.log(`
  Edge token broker (local)   ${broker}
  Embedded OpenID provider    ${provider.issuer}   (logs in "alice" automatically)
  Demo app                    id: ${demo.id}   secret: ${demo.secret}
                              return URL: ${apps[0]!.return_urls[0]}

  Open in a browser:          ${broker}/   (the demo: log in, refresh, events, logout)
                              ${broker}/docs   (the API, interactive)

  Try:
    curl '${broker}/v1/discovery?issuer=${provider.issuer}'
    curl -X POST ${broker}/v1/registrations -H 'authorization: Basic ${basic}' \\
         -H 'content-type: application/json' -d '{"issuer":"${provider.issuer}"}'

  Ctrl-C stops the broker and the provider.
`)
