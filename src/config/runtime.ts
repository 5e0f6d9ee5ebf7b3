// What a request handler hands to the capability modules: the bindings, the parsed config and
// the request's waitUntil. Modules take this instead of Hono's context, so Durable Objects can
// call them too.
import type { EgressPolicy } from '../net/egress'
import type { Config } from './config'

export interface Runtime {
  env: Env
  config: Config
  waitUntil: (p: Promise<unknown>) => void
}

export function egressPolicy(config: Config, maxBytes?: number): EgressPolicy {
  return { allowInsecure: config.allowInsecure, timeoutMs: config.providerTimeoutMs, ...(maxBytes ? { maxBytes } : {}) }
}
