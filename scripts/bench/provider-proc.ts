// The bench's OpenID provider, in its own process so that its work never shares an event loop
// with the load generator: local/provider.ts (oidc-provider, auto-login of "alice", refresh
// token rotation on) plus counters of every request it receives, reported over IPC.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { startLocalProvider as Start } from '../../local/provider.ts'

// local/provider.ts of the code being measured (the working tree, or an exported commit).
const { startLocalProvider } = (await import(process.env.BENCH_PROVIDER_MODULE ?? '../../local/provider.ts')) as {
  startLocalProvider: typeof Start
}

export interface ProviderClient {
  client_id: string
  client_secret: string
  redirect_uris: string[]
}

export interface Counts {
  /** Every HTTP request the provider's server received. */
  requests: number
  byRoute: Record<string, number>
  /** POST /token by grant_type, as oidc-provider reports them (grant.success / grant.error). */
  grants: Record<string, number>
  grantErrors: Record<string, number>
  /** Grants revoked by oidc-provider (refresh-token reuse detection revokes the whole grant). */
  grantsRevoked: number
  /** Bodies of 400 answers on /token that carry invalid_grant (sniffed from the response). */
  invalidGrantResponses: number
}

const fresh = (): Counts => ({ requests: 0, byRoute: {}, grants: {}, grantErrors: {}, grantsRevoked: 0, invalidGrantResponses: 0 })
let counts = fresh()

const clients = JSON.parse(process.env.BENCH_PROVIDER_CLIENTS ?? '[]') as ProviderClient[]

function route(path: string): string {
  if (path.startsWith('/interaction/')) return '/interaction/:uid'
  if (path.startsWith('/auth/')) return '/auth/:uid'
  return path
}

function intercept(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  counts.requests++
  const key = `${req.method} ${route(path)}`
  counts.byRoute[key] = (counts.byRoute[key] ?? 0) + 1
  if (path === '/token') {
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse
    ;(res as unknown as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
      const chunk = args[0]
      if (res.statusCode === 400 && chunk !== undefined && typeof chunk !== 'function' && String(chunk).includes('invalid_grant')) {
        counts.invalidGrantResponses++
      }
      return end(...args)
    }
  }
  return false
}

const provider = await startLocalProvider({
  port: 0,
  rotateRefreshTokens: true,
  intercept,
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
})

const grantType = (ctx: KoaContextWithOIDC) => String((ctx.oidc.params?.grant_type as string | undefined) ?? 'unknown')
provider.provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
  const g = grantType(ctx)
  counts.grants[g] = (counts.grants[g] ?? 0) + 1
})
provider.provider.on('grant.error', (ctx: KoaContextWithOIDC, err: { error?: string }) => {
  const k = `${grantType(ctx)}:${err?.error ?? 'error'}`
  counts.grantErrors[k] = (counts.grantErrors[k] ?? 0) + 1
})
provider.provider.on('grant.revoked', () => {
  counts.grantsRevoked++
})
// oidc-provider logs server errors through events only; keep them visible in the bench log.
provider.provider.on('server_error', (_ctx: unknown, err: Error) => console.error('provider server_error', err?.message))

process.on('message', (m: { id: number; cmd: string }) => {
  if (m.cmd === 'counts') process.send?.({ id: m.id, counts })
  else if (m.cmd === 'reset') {
    counts = fresh()
    process.send?.({ id: m.id, ok: true })
  } else if (m.cmd === 'close') {
    void provider.close().finally(() => {
      process.send?.({ id: m.id, ok: true })
      process.exit(0)
    })
  }
})
// The parent going away (even killed) must not leave this process behind.
process.on('disconnect', () => process.exit(0))
process.send?.({ ready: true, issuer: provider.issuer })
