// What every section gets: the running systems and the bench's settings.
import type { BrokerTarget, OAuthClient } from './flows.ts'
import type { DevServer, ProviderHandle } from './procs.ts'

export interface Settings {
  quick: boolean
  /** Runs per A/B comparison (each run measures both systems, order alternating). */
  runs: number
  /** Seconds per loaded (connections = `connections`) measurement. */
  loadSeconds: number
  /** Seconds per unloaded (1 connection) latency measurement. */
  idleSeconds: number
  connections: number
  maxRequestsPerRun: number
  refreshCallers: number[]
  refreshRounds: number
  scaleSteps: number[]
  /** Seconds the scale section may spend creating sessions. */
  scaleCreateBudgetS: number
  scaleLoadSeconds: number
  startupRepeats: number
}

export interface Ctx {
  settings: Settings
  tmp: string
  provider: ProviderHandle
  broker: DevServer
  hono: DevServer
  floor: DevServer
  target: BrokerTarget
  brokerClient: OAuthClient
  naiveClient: OAuthClient
  log: (msg: string) => void
  /** Another broker like `broker`, on its own wrangler dev and state (the scale section's clean slate). */
  freshBroker: () => Promise<{ dev: DevServer; target: BrokerTarget }>
}
