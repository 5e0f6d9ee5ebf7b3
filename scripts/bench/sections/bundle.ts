// 5. The bundle a deploy would upload (wrangler deploy --dry-run --outdir), raw and gzip, as
// configured (no minify) and with --minify for reference; startup time from `wrangler check
// startup` (a local CPU profile of the Worker's startup phase — the only startup figure wrangler
// gives without deploying).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Ctx } from '../lib/context.ts'
import { type Built, buildWorker, runWrangler } from '../lib/procs.ts'
import { median } from '../lib/stats.ts'

function sizes(b: Built) {
  const raw = readFileSync(b.file)
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(b.stdout)
  return {
    raw_kib: raw.length / 1024,
    gzip_kib: gzipSync(raw, { level: 9 }).length / 1024,
    wrangler_reported: m ? { total_upload_kib: Number(m[1]), gzip_kib: Number(m[2]) } : undefined,
  }
}

export async function bundleSection(ctx: Ctx, built: Built, sourceRoot: string) {
  ctx.log('5. bundle size and startup')
  const asConfigured = sizes(built)
  const minified = sizes(await buildWorker(join(sourceRoot, 'wrangler.toml'), join(ctx.tmp, 'broker-build-min'), ['--minify']))
  const startup: Array<{ active_ms: number; window_ms: number; sampled_ms: number }> = []
  for (let i = 0; i < ctx.settings.startupRepeats; i++) {
    const r = await runWrangler(['check', 'startup', '--outfile', join(ctx.tmp, `startup-${i}.cpuprofile`)], {
      cwd: sourceRoot,
      timeoutMs: 120_000,
    })
    const text = r.stdout + r.stderr
    const num = (label: string) => Number(new RegExp(`${label}:\\s+([\\d.]+) ms`).exec(text)?.[1] ?? Number.NaN)
    const s = { active_ms: num('Active'), window_ms: num('Profile window'), sampled_ms: num('Sampled time') }
    if (!Number.isFinite(s.active_ms)) ctx.log(`  ! wrangler check startup gave no figure (exit ${r.code}): ${text.slice(-300)}`)
    startup.push(s)
  }
  const out = {
    as_configured: asConfigured,
    minified,
    target_gzip_kib: 100,
    startup_runs: startup,
    startup_active_ms: median(startup.map((s) => s.active_ms)),
    startup_window_ms: median(startup.map((s) => s.window_ms)),
  }
  ctx.log(
    `  ${asConfigured.raw_kib.toFixed(1)} KiB raw, ${(asConfigured.wrangler_reported?.gzip_kib ?? asConfigured.gzip_kib).toFixed(1)} KiB gzip ` +
      `(minified: ${(minified.wrangler_reported?.gzip_kib ?? minified.gzip_kib).toFixed(1)} KiB gzip); startup ${out.startup_active_ms} ms active CPU`,
  )
  return out
}
