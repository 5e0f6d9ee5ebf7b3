// "Which provider?" as every route asks it: exactly one of `issuer` or `homeserver`, checked
// against the URL policy (400 invalid_request) before anything is fetched.
import * as z from 'zod'
import type { Runtime } from '../config/runtime'
import type { App } from '../config/schema'
import { BrokerError } from '../http/errors'
import { discoverHomeserver, isServerName } from '../matrix/discovery'
import { refuseReason } from '../net/url-policy'
import { type Discovered, discoverIssuer } from './discover'

const MAX_URL = 2048

export const TargetFields = {
  issuer: z
    .url({ protocol: /^https?$/ })
    .max(MAX_URL)
    .refine((u) => URL.canParse(u) && !new URL(u).search && !new URL(u).hash, 'an issuer has no query or fragment')
    .optional(),
  homeserver: z
    .string()
    .max(MAX_URL)
    .refine((s) => (/^https?:\/\//i.test(s) ? URL.canParse(s) : isServerName(s)), 'a homeserver URL or server name')
    .optional(),
}

export const TargetSchema = z.object(TargetFields)
export type Target = z.infer<typeof TargetSchema>

export function requireOneTarget(t: Target): { issuer: string } | { homeserver: string } {
  if (t.issuer !== undefined && t.homeserver === undefined) return { issuer: t.issuer }
  if (t.homeserver !== undefined && t.issuer === undefined) return { homeserver: t.homeserver }
  throw new BrokerError('invalid_request', 'Give exactly one of issuer or homeserver.')
}

/** Policy check, the app's allow-lists (if any), then cached discovery. */
export async function discoverTarget(rt: Runtime, t: Target, app?: App): Promise<Discovered> {
  const one = requireOneTarget(t)
  const raw = 'issuer' in one ? one.issuer : one.homeserver
  const url = new URL(/^https?:\/\//i.test(raw) ? raw : `https://${raw}`)
  const refused = refuseReason(url, rt.config.allowInsecure)
  if (refused) throw new BrokerError('invalid_request', `That ${'issuer' in one ? 'issuer' : 'homeserver'} is not allowed: ${refused}.`)
  if ('issuer' in one) {
    if (app?.allowed_issuers && !app.allowed_issuers.includes(one.issuer)) {
      throw new BrokerError('invalid_request', 'This app is not allowed to use that issuer.')
    }
    return discoverIssuer(rt, one.issuer)
  }
  if (app?.allowed_homeservers && !app.allowed_homeservers.includes(one.homeserver)) {
    throw new BrokerError('invalid_request', 'This app is not allowed to use that homeserver.')
  }
  return discoverHomeserver(rt, one.homeserver)
}
