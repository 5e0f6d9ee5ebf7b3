// A real OpenID provider (node `oidc-provider`) on loopback, for `npm start` and the tests.
// It logs a test user in and consents automatically, so the whole browser flow can be driven
// headlessly; `login_hint=deny` makes the user "cancel" (access_denied).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import instance from 'oidc-provider/lib/helpers/weak_cache.js'

export interface LocalProviderOptions {
  port?: number
  /** Rotate refresh tokens on use (the default, like most providers today). */
  rotateRefreshTokens?: boolean
  /** Static clients registered up front (the dynamic registration endpoint is always on). */
  clients?: Configuration['clients']
  /**
   * Sees every request first (tests count requests and inject faults with it); returning true
   * means it has answered and the provider does not see the request.
   */
  intercept?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean
  accessTokenTtl?: number
}

export interface LocalProvider {
  issuer: string
  provider: Provider
  server: Server
  close(): Promise<void>
}

export const TEST_USER = { sub: 'alice', name: 'Alice Example', email: 'alice@example.test' }

export async function startLocalProvider(opts: LocalProviderOptions = {}): Promise<LocalProvider> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'local-1', alg: 'RS256', use: 'sig' }

  const DEVICE_SCOPE = /^urn:matrix:(org\.matrix\.msc2967\.)?client:device:[A-Za-z0-9._~-]+$/
  const provider = new Provider(issuer, {
    clients: opts.clients ?? [],
    jwks: { keys: [jwk] },
    cookies: { keys: ['local-provider-cookie-key-not-secret'] },
    // The Matrix client-API scope is listed so that discovery shows the stable MSC2967 form.
    scopes: ['openid', 'offline_access', 'profile', 'email', 'urn:matrix:client:api:*'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    findAccount: (_ctx, sub) => (sub === TEST_USER.sub ? { accountId: sub, claims: () => ({ ...TEST_USER }) } : undefined),
    pkce: { required: () => true },
    ttl: { AccessToken: opts.accessTokenTtl ?? 3600, IdToken: 3600, RefreshToken: 86400 },
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: opts.rotateRefreshTokens ?? true,
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      registrationManagement: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      deviceFlow: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // MSC4191: an account management page and the actions it takes.
    discovery: {
      account_management_uri: `${issuer}/account`,
      account_management_actions_supported: [
        'org.matrix.profile',
        'org.matrix.sessions_list',
        'org.matrix.session_view',
        'org.matrix.session_end',
      ],
    },
    // Consent is given automatically for whatever the client asked.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx
      if (!oidc.session?.accountId || !oidc.client) return undefined
      const existing = oidc.session.grantIdFor(oidc.client.clientId)
      if (existing) {
        const grant = await oidc.provider.Grant.find(existing)
        if (grant) {
          grant.addOIDCScope((oidc.params?.scope as string | undefined) ?? 'openid')
          await grant.save()
          return grant
        }
      }
      const grant = new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId })
      grant.addOIDCScope((oidc.params?.scope as string | undefined) ?? 'openid')
      await grant.save()
      return grant
    },
  })
  provider.proxy = false
  // oidc-provider knows only static scopes; Matrix device scopes (MSC2967) are dynamic. Device
  // scopes seen in an authorization request are added to its live scope set first.
  const scopes = instance(provider).configuration.scopes

  const handler = provider.callback()
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    if (opts.intercept?.(req, res, path)) return
    if (path === '/auth') {
      const requested = new URL(req.url ?? '/', issuer).searchParams.get('scope') ?? ''
      for (const sc of requested.split(' ')) if (DEVICE_SCOPE.test(sc)) scopes.add(sc)
    }
    // The device authorization request (RFC 8628) carries its scope in the form body: read it
    // here for the device scopes, then hand the provider the body already read.
    if (path === '/device/auth' && req.method === 'POST') return void deviceAuthorization(req, res, scopes, DEVICE_SCOPE, handler)
    if (path.startsWith('/interaction/')) return void interact(provider, req, res)
    handler(req, res)
  })

  return {
    issuer,
    provider,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function deviceAuthorization(
  req: IncomingMessage,
  res: ServerResponse,
  scopes: Set<string>,
  deviceScope: RegExp,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
) {
  try {
    let body = ''
    for await (const chunk of req) {
      body += chunk
      if (body.length > 56 * 1024) throw new Error('too large')
    }
    for (const sc of (new URLSearchParams(body).get('scope') ?? '').split(' ')) if (deviceScope.test(sc)) scopes.add(sc)
    // oidc-provider reads an already consumed body from `req.body`.
    Object.assign(req, { body })
    handler(req, res)
  } catch {
    res.statusCode = 400
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ error: 'invalid_request', error_description: 'unreadable body' }))
  }
}

async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse) {
  try {
    const details = await provider.interactionDetails(req, res)
    const hint = details.params['login_hint']
    if (hint === 'deny') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' })
      return
    }
    await provider.interactionFinished(req, res, { login: { accountId: TEST_USER.sub } }, { mergeWithLastSubmission: true })
  } catch {
    res.statusCode = 400
    res.end('interaction failed')
  }
}
