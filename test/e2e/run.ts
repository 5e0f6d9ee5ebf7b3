// `npm run test:e2e`: the demo app in a real browser. It starts the local run (`npm start`'s
// local/start.ts, in its own process group, on free ports), drives Debian's headless Chromium
// through playwright-core — log in with the embedded provider, see alice and the countdown,
// force a refresh and see the event, open the account page, log out — and keeps a screenshot
// at docs/demo.png. One summary line; exit 1 on any failure; the local run is always stopped.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join(ROOT, 'docs', 'demo.png')
const INSTALL_TIMEOUT_MS = 10 * 60_000
const STEP_TIMEOUT_MS = 20_000
const TOTAL_TIMEOUT_MS = 4 * 60_000

const started = Date.now()
const log: string[] = []
let server: ChildProcess | undefined
let browser: Browser | undefined
let step = 'setup'

/** Chromium from Debian; installed here when it is missing and we may (root, apt-get). */
function ensureChromium(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return false
  console.log(`e2e: ${CHROMIUM} is missing; installing Debian's chromium (at most ${INSTALL_TIMEOUT_MS / 60_000} min)…`)
  spawnSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends chromium'], {
    stdio: 'inherit',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return existsSync(CHROMIUM)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** local/start.ts in its own process group: stopping the group stops the provider and wrangler. */
function startLocalRun(port: number, providerPort: number): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'local', 'start.ts')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), PROVIDER_PORT: String(providerPort) },
  })
  const keep = (b: Buffer) => log.push(...b.toString().split('\n').filter(Boolean))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return child
}

async function stopLocalRun() {
  const child = server
  server = undefined
  if (!child?.pid || child.exitCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-child.pid, 'SIGTERM') // start.ts then stops wrangler's own group and the provider
  } catch {}
  const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 10_000).unref())
  if ((await Promise.race([exited, timer])) === 'late') {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {}
  }
}

async function cleanup() {
  await browser?.close().catch(() => {})
  browser = undefined
  await stopLocalRun()
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check().catch(() => false)) return
    if (server && server.exitCode !== null) throw new Error(`the local run exited (${server.exitCode}) while waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function expect(cond: boolean, message: string) {
  if (!cond) throw new Error(message)
}

async function drive(page: Page, broker: string, issuer: string): Promise<string[]> {
  const done: string[] = []
  const events = page.locator('#events')

  step = 'open /'
  await page.goto(`${broker}/`)
  await page.getByRole('heading', { name: 'Broker demo app' }).waitFor()
  expect(await page.getByLabel(/embedded provider/).isChecked(), 'the embedded provider is not the default choice')
  done.push('open')

  step = 'log in with the embedded provider'
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(`${broker}/`)
  await page.locator('#user').filter({ hasText: 'alice' }).waitFor()
  expect((await page.locator('#issuer-out').textContent()) === issuer, 'the session names another provider')
  done.push('login')

  step = 'see the countdown'
  const seconds = async () => Number(await page.locator('#countdown').getAttribute('data-seconds'))
  await waitFor('a countdown', async () => (await seconds()) > 0, STEP_TIMEOUT_MS)
  const first = await seconds()
  await waitFor('the countdown to tick', async () => (await seconds()) < first, STEP_TIMEOUT_MS)
  expect(/^[0-9a-f]{12}…$/.test((await page.locator('#token-hash').textContent()) ?? ''), 'no token hash prefix shown')
  done.push(`countdown ${first}s`)

  step = 'no handle or token on the page'
  const cookies = await page.context().cookies(broker)
  const handle = cookies.find((c) => c.name.endsWith('demo-session'))
  expect(handle !== undefined && handle.httpOnly && handle.sameSite === 'Lax', 'the session cookie is not HttpOnly + SameSite=Lax')
  expect(
    !(await page.content()).includes(handle!.value) && !String(await page.evaluate('document.cookie')).includes('demo-session'),
    'the handle reached the page',
  )
  done.push('handle hidden')

  step = 'live events connected'
  await page.locator('#ws-state').filter({ hasText: 'Connected' }).waitFor()
  const hashBefore = await page.locator('#token-hash').textContent()

  step = 'force a refresh and see tokens_refreshed'
  await page.getByRole('button', { name: 'Refresh the token now' }).click()
  await events.filter({ hasText: 'tokens_refreshed' }).waitFor()
  await page.locator('#status').filter({ hasText: 'Refreshed' }).waitFor()
  expect((await page.locator('#token-hash').textContent()) !== hashBefore, 'the token hash did not change after the refresh')
  await page.locator('#refresh-count').filter({ hasText: 'once' }).waitFor()
  done.push('refresh event')

  step = 'open the account page'
  const account = page.getByRole('link', { name: /Account page/ })
  await account.waitFor()
  const [popup] = await Promise.all([page.waitForEvent('popup'), account.click()])
  await popup.waitForURL((u) => u.href.startsWith(`${issuer}/account`), { waitUntil: 'commit' })
  await popup.close()
  done.push('account')

  step = 'screenshot'
  mkdirSync(dirname(SCREENSHOT), { recursive: true })
  await page.screenshot({ path: SCREENSHOT, fullPage: true })

  step = 'log out and see logged_out'
  await page.getByRole('button', { name: 'Log out' }).click()
  await events.filter({ hasText: 'logged_out' }).waitFor()
  await page.locator('#status').filter({ hasText: 'Logged out' }).waitFor()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  const after = await page.request.get(`${broker}/demo/api/session`)
  expect(after.status() === 401, `after logout /demo/api/session answered ${after.status()}`)
  done.push('logout event')
  return done
}

async function main(): Promise<number> {
  if (!ensureChromium()) {
    console.log(
      `e2e: SKIP — ${CHROMIUM} is missing and cannot be installed here (needs root and apt-get). Install Debian's chromium to run this test.`,
    )
    return 0
  }
  const [port, providerPort] = [await freePort(), await freePort()]
  const broker = `http://127.0.0.1:${port}`
  step = 'start the local run'
  server = startLocalRun(port, providerPort)
  await waitFor('/healthz', async () => (await fetch(`${broker}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok, 90_000)
  // start.ts falls back to another provider port if that one is taken: ask the page.
  const home = await (await fetch(`${broker}/`, { signal: AbortSignal.timeout(10_000) })).text()
  const issuer = /embedded provider \(<code>([^<]+)<\/code>/.exec(home)?.[1]
  expect(issuer !== undefined, 'the demo page offers no embedded provider (DEMO_APP_ID/DEMO_APP_SECRET/LOCAL_ISSUER not passed?)')

  step = 'launch chromium'
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } })
  context.setDefaultTimeout(STEP_TIMEOUT_MS)
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  const done = await drive(page, broker, issuer!)
  expect(pageErrors.length === 0, `the page logged errors: ${pageErrors.join(' | ').slice(0, 300)}`)
  console.log(
    `e2e: PASS — ${done.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshot ${SCREENSHOT.slice(ROOT.length + 1)}`,
  )
  return 0
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)))
function printLog() {
  if (log.length) console.error(`--- local run output (last 40 lines) ---\n${log.slice(-40).join('\n')}\n---`)
}

const deadline = setTimeout(() => {
  printLog()
  console.log(`e2e: FAIL at "${step}": the whole run took longer than ${TOTAL_TIMEOUT_MS / 1000} s`)
  void cleanup().then(() => process.exit(1))
}, TOTAL_TIMEOUT_MS)

let code = 1
try {
  code = await main()
} catch (e) {
  printLog()
  console.log(`e2e: FAIL at "${step}": ${String((e as Error)?.message ?? e).split('\n')[0]}`)
  code = 1
} finally {
  await cleanup()
  clearTimeout(deadline)
}
process.exit(code)
