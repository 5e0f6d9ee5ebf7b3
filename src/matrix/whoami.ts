// After a Matrix login: who is this token? (`GET /_matrix/client/v3/account/whoami`)
import * as oauth from 'oauth4webapi'
import * as z from 'zod'
import type { Runtime } from '../config/runtime'
import { oauthOptions } from '../discovery/discover'
import { BrokerError } from '../http/errors'
import { providerFailure } from '../net/provider-errors'

const WhoAmI = z.looseObject({ user_id: z.string().regex(/^@[^:]+:.+$/), device_id: z.string().min(1).optional() })
export type WhoAmI = z.infer<typeof WhoAmI>

export async function whoami(rt: Runtime, homeserver: string, accessToken: string): Promise<WhoAmI> {
  const what = `whoami at ${homeserver}`
  try {
    const res = await oauth.protectedResourceRequest(
      accessToken,
      'GET',
      new URL(`${homeserver}/_matrix/client/v3/account/whoami`),
      new Headers({ accept: 'application/json' }),
      null,
      oauthOptions(rt),
    )
    if (res.status !== 200) throw new BrokerError('authorization_failed', `${what} failed: the homeserver answered HTTP ${res.status}.`)
    const parsed = WhoAmI.safeParse(await res.json().catch(() => undefined))
    if (!parsed.success) throw new BrokerError('authorization_failed', `${what} failed: the answer is malformed.`)
    return parsed.data
  } catch (e) {
    throw providerFailure(e, 'authorization_failed', what, 'temporarily_unavailable')
  }
}
