// Config is parsed once per isolate (per env object) into a frozen, typed object.
import type * as z from 'zod'
import { BrokerError } from '../http/errors'
import { type App, type StaticRegistration, VARIABLES, type VariableName } from './schema'

type Parsed = { [K in VariableName]: z.output<(typeof VARIABLES)[K]> }

export interface Config {
  readonly apps: ReadonlyMap<string, App>
  readonly staticRegistrations: Readonly<Record<string, StaticRegistration>>
  /** Local runs and tests: http and loopback providers allowed, private addresses allowed. */
  readonly allowInsecure: boolean
  readonly publicUrl: string | undefined
  readonly stateSecret: string
  readonly tokenEncryptionKey: string | undefined
  readonly softwareStatement: string | undefined
  readonly providerTimeoutMs: number
  /** Proactive refresh: how long before expiry, and only for sessions used within the idle window. */
  readonly refreshAheadSeconds: number
  readonly refreshIdleSeconds: number
}

const cache = new WeakMap<object, Config | BrokerError>()

export function loadConfig(env: object): Config {
  const hit = cache.get(env)
  if (hit instanceof BrokerError) throw hit
  if (hit) return hit
  try {
    const config = parse(env as Record<string, unknown>)
    cache.set(env, config)
    return config
  } catch (e) {
    if (e instanceof BrokerError) cache.set(env, e)
    throw e
  }
}

function parse(env: Record<string, unknown>): Config {
  const out: Partial<Parsed> = {}
  for (const name of Object.keys(VARIABLES) as VariableName[]) {
    const raw = env[name]
    const result = VARIABLES[name].safeParse(raw === '' && name !== 'ALLOW_INSECURE_ISSUERS' ? undefined : raw)
    if (!result.success) {
      const issue = result.error.issues[0]
      const where = issue && issue.path.length ? ` at ${issue.path.join('.')}` : ''
      const why = raw === undefined ? 'is not set' : `is invalid${where}: ${issue?.message ?? 'bad value'}`
      throw new BrokerError('misconfigured', `The broker is misconfigured: ${name} ${why}.`)
    }
    ;(out as Record<string, unknown>)[name] = result.data
  }
  const p = out as Parsed
  return Object.freeze({
    apps: new Map(p.BROKER_APPS.map((a) => [a.id, Object.freeze(a)])),
    staticRegistrations: Object.freeze(p.STATIC_REGISTRATIONS ?? {}),
    allowInsecure: p.ALLOW_INSECURE_ISSUERS,
    publicUrl: p.PUBLIC_URL,
    stateSecret: p.STATE_SECRET,
    tokenEncryptionKey: p.TOKEN_ENCRYPTION_KEY,
    softwareStatement: p.SOFTWARE_STATEMENT,
    providerTimeoutMs: p.PROVIDER_TIMEOUT_MS,
    refreshAheadSeconds: p.REFRESH_AHEAD_SECONDS,
    refreshIdleSeconds: p.REFRESH_IDLE_SECONDS,
  })
}
