import type { Context } from 'hono'
import { loadConfig } from '../config/config'
import type { Runtime } from '../config/runtime'

export interface AppEnv {
  Bindings: Env
  Variables: { requestId: string }
}

export type Ctx = Context<AppEnv>

export function runtimeOf(c: Ctx): Runtime {
  const ctx = c.executionCtx
  return { env: c.env, config: loadConfig(c.env), waitUntil: (p) => ctx.waitUntil(p) }
}

/** The broker's own origin: PUBLIC_URL, else the request's. */
export function originOf(c: Ctx, rt: Runtime): string {
  return rt.config.publicUrl ?? new URL(c.req.url).origin
}
