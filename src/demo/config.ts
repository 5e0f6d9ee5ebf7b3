// The demo's own variables, parsed here and not in src/config/: the demo is optional and a
// broker without it must not need (or know about) them.
import * as z from 'zod'
import { BrokerError } from '../http/errors'

export interface DemoConfig {
  appId: string
  appSecret: string
  /** The embedded provider of `npm start`, offered as the first choice. */
  localIssuer: string | undefined
}

const unset = (v: unknown) => (v === '' ? undefined : v)

const DemoVars = z.object({
  DEMO_APP_ID: z.preprocess(
    unset,
    z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'an app id')
      .optional(),
  ),
  DEMO_APP_SECRET: z.preprocess(unset, z.string().min(1).max(1024).optional()),
  LOCAL_ISSUER: z.preprocess(unset, z.url({ protocol: /^https?$/ }).optional()),
})

const cache = new WeakMap<object, DemoConfig | null | BrokerError>()

/** The demo's config, `null` when it is off (neither variable set). Cached per env object. */
export function demoConfig(env: object): DemoConfig | null {
  const hit = cache.get(env)
  if (hit instanceof BrokerError) throw hit
  if (hit !== undefined) return hit
  const result = parse(env as Record<string, unknown>)
  cache.set(env, result)
  if (result instanceof BrokerError) throw result
  return result
}

function parse(env: Record<string, unknown>): DemoConfig | null | BrokerError {
  const r = DemoVars.safeParse({ DEMO_APP_ID: env.DEMO_APP_ID, DEMO_APP_SECRET: env.DEMO_APP_SECRET, LOCAL_ISSUER: env.LOCAL_ISSUER })
  if (!r.success) {
    // Named, never echoed: DEMO_APP_SECRET is a secret.
    const name = String(r.error.issues[0]?.path[0] ?? 'DEMO_APP_ID')
    return new BrokerError('misconfigured', `The broker is misconfigured: ${name} is invalid.`)
  }
  const { DEMO_APP_ID: appId, DEMO_APP_SECRET: appSecret, LOCAL_ISSUER: localIssuer } = r.data
  if (appId === undefined && appSecret === undefined) return null
  // Half a demo is a mistake worth naming rather than a silently missing page.
  if (appId === undefined) return new BrokerError('misconfigured', 'The broker is misconfigured: DEMO_APP_ID is not set.')
  if (appSecret === undefined) return new BrokerError('misconfigured', 'The broker is misconfigured: DEMO_APP_SECRET is not set.')
  return { appId, appSecret, localIssuer }
}
