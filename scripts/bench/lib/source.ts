// Which code is measured. By default the working tree; BENCH_REF=<git ref> (or a working tree
// that does not build, e.g. with someone's change half made) measures a clean export of that
// commit instead (`git archive`, read-only; node_modules linked), recorded in the report.
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './procs.ts'

export interface Source {
  root: string
  label: string
  commit: string
}

export function headCommit(ref = 'HEAD'): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

export function workingTree(): Source {
  return { root: ROOT, label: `working tree (on ${headCommit()})`, commit: headCommit() }
}

export function exportRef(ref: string, into: string): Source {
  const commit = headCommit(ref)
  mkdirSync(into, { recursive: true })
  const tar = execFileSync('git', ['archive', '--format=tar', ref], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 })
  execFileSync('tar', ['-x', '-C', into], { input: tar })
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir')
  return { root: into, label: `git ${ref} (${commit})`, commit }
}
