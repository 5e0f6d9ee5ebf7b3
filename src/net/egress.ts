// Every request the broker sends to a provider or homeserver goes through `guardedFetch`:
// URL policy (SSRF), one deadline for connect + headers + body, a response size cap, and no
// redirects to another origin. oauth4webapi calls it through its `customFetch` option.
import { readAtMost } from './bytes'
import { refuseReason } from './url-policy'

export type EgressFailure = 'forbidden_url' | 'timeout' | 'too_large' | 'redirect' | 'network'

export class EgressError extends Error {
  constructor(
    readonly reason: EgressFailure,
    message: string,
  ) {
    super(message)
    this.name = 'EgressError'
  }
}

export interface EgressPolicy {
  allowInsecure: boolean
  timeoutMs: number
  /** Responses larger than this are refused (providers' documents are a few KiB). */
  maxBytes?: number
}

export const DEFAULT_MAX_BYTES = 256 * 1024
const MAX_REDIRECTS = 3
const NULL_BODY = new Set([101, 204, 205, 304])

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>

export function guardedFetch(policy: EgressPolicy): FetchLike {
  return async (input, init = {}) => {
    const deadline = AbortSignal.timeout(policy.timeoutMs)
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline
    let url = new URL(input)
    for (let hop = 0; ; hop++) {
      const refused = refuseReason(url, policy.allowInsecure)
      if (refused) throw new EgressError('forbidden_url', `${url.origin}: ${refused}`)
      let res: Response
      try {
        res = await fetch(url, { ...init, redirect: 'manual', signal })
      } catch {
        throw deadline.aborted
          ? new EgressError('timeout', `${url.origin} did not answer within ${policy.timeoutMs} ms`)
          : new EgressError('network', `${url.origin} could not be reached`)
      }
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        await res.body?.cancel()
        const next = new URL(res.headers.get('location') ?? '', url)
        const method = (init.method ?? 'GET').toUpperCase()
        // Only GETs follow, only on the same origin: a provider must not bounce us elsewhere.
        if (method !== 'GET' || next.origin !== url.origin || hop >= MAX_REDIRECTS) {
          throw new EgressError(
            'redirect',
            `${url.origin} redirected to ${next.origin === url.origin ? 'itself too often' : 'another origin'}`,
          )
        }
        url = next
        continue
      }
      const body = NULL_BODY.has(res.status) ? null : await readCapped(res, policy, deadline, url.origin)
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
    }
  }
}

async function readCapped(res: Response, policy: EgressPolicy, deadline: AbortSignal, origin: string): Promise<Uint8Array> {
  const max = policy.maxBytes ?? DEFAULT_MAX_BYTES
  const tooLarge = () => new EgressError('too_large', `${origin} sent a response larger than ${max} bytes`)
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > max) {
    await res.body?.cancel()
    throw tooLarge()
  }
  if (!res.body) return new Uint8Array()
  const timedOut = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new EgressError('timeout', `${origin} did not finish its response within ${policy.timeoutMs} ms`))
    if (deadline.aborted) onAbort()
    else deadline.addEventListener('abort', onAbort, { once: true })
  })
  timedOut.catch(() => {})
  let out: Uint8Array | 'too_large'
  try {
    out = await readAtMost(res.body, max, (read) => Promise.race([read, timedOut]))
  } catch (e) {
    if (e instanceof EgressError) throw e
    throw new EgressError('network', `${origin} broke off its response`)
  }
  if (out === 'too_large') throw tooLarge()
  return out
}
