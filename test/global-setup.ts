import type { TestProject } from 'vitest/node'
import { startHostile } from './support/hostile.ts'
import { startLab } from './support/lab.ts'

// Real servers on loopback, started once per test run: a shared oidc-provider, the lab that
// spawns more of them on demand, and the hostile provider / fake homeserver.
export default async function setup(project: TestProject) {
  const lab = await startLab()
  const shared = lab.providers[0]!
  const hostile = await startHostile(shared)
  project.provide('oidcIssuer', shared.issuer)
  project.provide('labUrl', lab.url)
  project.provide('hostileUrl', hostile.url)
  // Property-based tests: fixed seed (reproducible CI), FUZZ_RUNS for longer local runs.
  project.provide('fuzz', { runs: Number(process.env.FUZZ_RUNS ?? 40), seed: Number(process.env.FUZZ_SEED ?? 20261204) })
  return async () => {
    await Promise.all([lab.close(), hostile.close()])
  }
}
