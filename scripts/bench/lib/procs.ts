// Processes the bench starts (the provider, wrangler dev ×3, wrangler builds) and what it reads
// about them from /proc (CPU time, RSS). Everything it starts is registered for cleanup, which
// runs on normal exit, on failure and on SIGINT/SIGTERM.
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { createWriteStream, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import type { Counts, ProviderClient } from '../provider-proc.ts'

export const ROOT = resolve(import.meta.dirname, '../../..')
const WRANGLER_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
  CI: '1',
  // wrangler dev's local trace collector (every request's tail events written to a local SQLite
  // store for its explorer UI) and the local explorer: dev-only work on every request, the same
  // for all three Workers, part of none of them.
  X_LOCAL_OBSERVABILITY: 'false',
  X_LOCAL_EXPLORER: 'false',
}

const cleanups: Array<() => Promise<void>> = []
export function onCleanup(fn: () => Promise<void>) {
  cleanups.push(fn)
}
let cleaned = false
export async function cleanupAll() {
  if (cleaned) return
  cleaned = true
  for (const fn of cleanups.reverse()) await fn().catch(() => {})
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => res(port))
    })
  })
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Rejects after `ms`: every wait in the bench is bounded. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms))),
    ])
  } finally {
    clearTimeout(t)
  }
}

// ---- the provider (child process) -------------------------------------------------------

export interface ProviderHandle {
  issuer: string
  pid: number
  counts(): Promise<Counts>
  reset(): Promise<void>
}

export async function startProvider(clients: ProviderClient[], logFile: string, providerModule: string): Promise<ProviderHandle> {
  const log = createWriteStream(logFile)
  const child = fork(join(import.meta.dirname, '../provider-proc.ts'), [], {
    env: { ...process.env, BENCH_PROVIDER_CLIENTS: JSON.stringify(clients), BENCH_PROVIDER_MODULE: providerModule },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await withTimeout(new Promise((r) => child.once('exit', r)), 3000, 'provider exit').catch(() => child.kill('SIGKILL'))
    }
  })
  let seq = 0
  const waiting = new Map<number, (m: unknown) => void>()
  const ready = new Promise<string>((res, rej) => {
    child.on('message', (m: { id?: number; ready?: boolean; issuer?: string }) => {
      if (m.ready && m.issuer) res(m.issuer)
      if (m.id !== undefined) waiting.get(m.id)?.(m)
    })
    child.once('exit', (code) => rej(new Error(`provider exited with ${code}; see ${logFile}`)))
  })
  const issuer = await withTimeout(ready, 30_000, 'provider start')
  const ask = <T>(cmd: string) =>
    withTimeout(
      new Promise<T>((res) => {
        const id = ++seq
        waiting.set(id, (m) => {
          waiting.delete(id)
          res(m as T)
        })
        child.send({ id, cmd })
      }),
      10_000,
      `provider ${cmd}`,
    )
  return {
    issuer,
    pid: child.pid!,
    counts: async () => (await ask<{ counts: Counts }>('counts')).counts,
    reset: async () => void (await ask('reset')),
  }
}

// ---- wrangler ----------------------------------------------------------------------------

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs wrangler to completion (bounded), in its own process group. */
export function runWrangler(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const p = spawn('wrangler', args, {
      cwd: opts.cwd ?? ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...WRANGLER_ENV },
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    let exited = false
    const kill = () => {
      try {
        if (p.pid && !exited) process.kill(-p.pid, 'SIGKILL')
      } catch {}
    }
    const t = setTimeout(() => {
      kill()
      rej(new Error(`wrangler ${args[0]} timed out`))
    }, opts.timeoutMs ?? 120_000)
    onCleanup(async () => kill())
    p.on('error', rej)
    p.on('exit', (code) => {
      exited = true
      clearTimeout(t)
      res({ code, stdout, stderr })
    })
  })
}

export interface Built {
  dir: string
  file: string
  stdout: string
}

/** `wrangler deploy --dry-run --outdir`: the exact bundle a deploy would upload. */
export async function buildWorker(config: string, outdir: string, extra: string[] = []): Promise<Built> {
  const r = await runWrangler(['deploy', '--dry-run', '-c', config, '--outdir', outdir, ...extra])
  if (r.code !== 0) throw new Error(`build of ${config} failed:\n${r.stdout}\n${r.stderr}`)
  const file = readdirSync(outdir).find((f) => f.endsWith('.js'))
  if (!file) throw new Error(`no bundle in ${outdir}`)
  return { dir: outdir, file: join(outdir, file), stdout: r.stdout + r.stderr }
}

/**
 * A copy of a wrangler.toml that runs a prebuilt bundle: `wrangler dev` then serves a snapshot
 * and never rebuilds when files in the tree change (other people work in it meanwhile).
 */
export function configForBundle(sourceConfig: string, bundle: string, out: string): string {
  const text = readFileSync(sourceConfig, 'utf8')
  if (!/^main\s*=.*$/m.test(text)) throw new Error(`${sourceConfig} has no main`)
  writeFileSync(out, text.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(bundle)}\nno_bundle = true`))
  return out
}

export interface DevServer {
  name: string
  url: string
  pgid: number
  logFile: string
  stop(): Promise<void>
}

export async function startDev(opts: {
  name: string
  config: string
  port: number
  persistTo: string
  vars: Record<string, string>
  logFile: string
  readyPath: string
  /** Overrides the Worker's name (two wrangler devs of one name collide). */
  workerName?: string
}): Promise<DevServer> {
  const inspector = await freePort()
  const args = [
    'dev',
    '-c',
    opts.config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--inspector-port',
    String(inspector),
    // warn: no per-request access log, which in wrangler dev is a loopback HTTP call from workerd to wrangler's node
    // process for every request (a dev-only cost shared by all three Workers, not part of any of them).
    '--persist-to',
    opts.persistTo,
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ]
  if (opts.workerName) args.push('--name', opts.workerName)
  for (const [k, v] of Object.entries(opts.vars)) args.push('--var', `${k}:${v}`)
  const log = createWriteStream(opts.logFile)
  const p = spawn('wrangler', args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...WRANGLER_ENV },
  })
  p.stdout.pipe(log)
  p.stderr.pipe(log)
  const pgid = p.pid!
  let exited = false
  p.on('exit', () => (exited = true))
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    try {
      process.kill(-pgid, 'SIGTERM')
    } catch {
      return
    }
    for (let i = 0; i < 30 && groupPids(pgid).length; i++) await sleep(100)
    try {
      if (groupPids(pgid).length) process.kill(-pgid, 'SIGKILL')
    } catch {}
  }
  onCleanup(stop)
  const url = `http://127.0.0.1:${opts.port}`
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (exited) throw new Error(`wrangler dev (${opts.name}) exited; see ${opts.logFile}`)
    const ok = await fetch(url + opts.readyPath, { redirect: 'manual', signal: AbortSignal.timeout(2000) })
      .then(async (r) => (await r.arrayBuffer(), r.status < 500))
      .catch(() => false)
    if (ok) return { name: opts.name, url, pgid, logFile: opts.logFile, stop }
    await sleep(250)
  }
  throw new Error(`wrangler dev (${opts.name}) not ready after 90 s; see ${opts.logFile}`)
}

// ---- /proc ------------------------------------------------------------------------------

const TICK = 100 // USER_HZ on Linux

interface ProcStat {
  pid: number
  comm: string
  pgrp: number
  cpuMs: number
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = s.lastIndexOf(')')
    const comm = s.slice(s.indexOf('(') + 1, close)
    const f = s.slice(close + 2).split(' ')
    // fields after comm: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    return { pid, comm, pgrp: Number(f[2]), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICK }
  } catch {
    return undefined
  }
}

export function groupPids(pgid: number): ProcStat[] {
  const out: ProcStat[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const st = readStat(Number(d))
    if (st && st.pgrp === pgid) out.push(st)
  }
  return out
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** The workerd processes of a wrangler dev (its process group), and the rest (node, esbuild). */
export function devProcs(dev: DevServer) {
  const all = groupPids(dev.pgid)
  return { workerd: all.filter((p) => p.comm.startsWith('workerd')), other: all.filter((p) => !p.comm.startsWith('workerd')) }
}

export interface CpuSnapshot {
  workerdMs: number
  otherMs: number
}

export function cpuOf(dev: DevServer): CpuSnapshot {
  const { workerd, other } = devProcs(dev)
  return { workerdMs: workerd.reduce((a, p) => a + p.cpuMs, 0), otherMs: other.reduce((a, p) => a + p.cpuMs, 0) }
}

export function workerdRss(dev: DevServer): number {
  return devProcs(dev).workerd.reduce((a, p) => a + rssBytes(p.pid), 0)
}

/**
 * RSS of the workerd that runs the Worker and its Durable Objects. wrangler dev starts two: a
 * proxy on the public port, and the runtime (the one with an inspector); else all of them.
 */
export function runtimeRss(dev: DevServer): { bytes: number; which: 'runtime' | 'all' } {
  const ws = devProcs(dev).workerd
  const runtime = ws.filter((p) => {
    try {
      return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('--inspector-addr')
    } catch {
      return false
    }
  })
  if (runtime.length === 1) return { bytes: rssBytes(runtime[0]!.pid), which: 'runtime' }
  return { bytes: ws.reduce((a, p) => a + rssBytes(p.pid), 0), which: 'all' }
}

/** Session Durable Objects that are live (their SQLite database is open in workerd). */
export function liveObjects(dev: DevServer, className: string): number {
  const files = new Set<string>()
  for (const p of devProcs(dev).workerd) {
    let fds: string[] = []
    try {
      fds = readdirSync(`/proc/${p.pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${p.pid}/fd/${fd}`)
        if (target.endsWith('.sqlite') && target.includes(`-${className}/`) && !target.endsWith('/metadata.sqlite')) files.add(target)
      } catch {}
    }
  }
  return files.size
}

export function selfCpuMs(pid: number): number {
  return readStat(pid)?.cpuMs ?? 0
}
