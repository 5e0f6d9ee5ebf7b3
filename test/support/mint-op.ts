// A small OpenID provider that mints exactly the broken answer a test asks for, at issuer
// `<base>/op/<scenario>`: the ID-token and token-response cases a real provider never makes
// (modelled on the OpenID Foundation's RP conformance tests). Everything else is honest:
// discovery, registration, PKCE checking, JWKS.
import { createHash, createSecretKey, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT, base64url } from 'jose'
import { drip, sendHuge } from './bad-bodies.ts'

interface Pending {
  nonce?: string
  client_id: string
  challenge: string
  redirect_uri: string
  scope: string
}

export async function createMintOp(base: string) {
  const good = await generateKeyPair('RS256', { extractable: true })
  const other = await generateKeyPair('RS256', { extractable: true })
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'op-1', alg: 'RS256', use: 'sig' }
  const codes = new Map<string, Pending>()
  const counts = new Map<string, number>()
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1)

  const json = (res: ServerResponse, body: unknown, status = 200) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  const form = async (req: IncomingMessage) => {
    let s = ''
    for await (const chunk of req) s += chunk
    return new URLSearchParams(s)
  }

  async function idToken(s: string, issuer: string, p: Pending): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    const claims: Record<string, unknown> = { sub: 'mint-user', nonce: p.nonce }
    let iss = issuer
    let aud: string | string[] = p.client_id
    let iat = now
    let exp = now + 300
    if (s === 'wrong-nonce') claims.nonce = 'not-the-nonce'
    if (s === 'no-nonce') delete claims.nonce
    if (s === 'wrong-aud') aud = 'someone-else'
    if (s === 'extra-aud-no-azp') aud = [p.client_id, 'someone-else']
    if (s === 'wrong-iss') iss = `${base}/op/elsewhere`
    if (s === 'expired') [iat, exp] = [now - 1200, now - 600]
    if (s === 'iat-future') [iat, exp] = [now + 3600, now + 7200]
    const body = { ...claims, iss, aud, iat, exp }
    if (s === 'alg-none') {
      return `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(body))}.`
    }
    if (s === 'hs256-pubkey') {
      const secret = createSecretKey(Buffer.from(JSON.stringify(publicJwk)))
      return new SignJWT(body).setProtectedHeader({ alg: 'HS256', kid: 'op-1' }).sign(secret)
    }
    const key = s === 'bad-signature' || s === 'unknown-kid' ? other.privateKey : good.privateKey
    const kid = s === 'unknown-kid' ? 'op-2' : 'op-1'
    return new SignJWT(body).setProtectedHeader({ alg: 'RS256', kid }).sign(key)
  }

  async function token(s: string, issuer: string, req: IncomingMessage, res: ServerResponse) {
    const params = await form(req)
    if (params.get('grant_type') === 'refresh_token') {
      return json(res, { access_token: `at-${randomBytes(8).toString('hex')}`, token_type: 'Bearer', expires_in: 300 })
    }
    const p = codes.get(params.get('code') ?? '')
    codes.delete(params.get('code') ?? '')
    const verifier = params.get('code_verifier') ?? ''
    if (!p || createHash('sha256').update(verifier).digest('base64url') !== p.challenge || params.get('redirect_uri') !== p.redirect_uri) {
      return json(res, { error: 'invalid_grant' }, 400)
    }
    if (s === 'token-500') return json(res, { error: 'server_error' }, 500)
    if (s === 'token-huge') return sendHuge(req, res)
    if (s === 'token-drip') return drip(req, res)
    if (s === 'token-redirect') {
      res.writeHead(307, { location: 'http://127.0.0.2:9/token' })
      return res.end()
    }
    if (s === 'token-html') {
      res.writeHead(200, { 'content-type': 'text/html' })
      return res.end('<html>oops</html>')
    }
    const body: Record<string, unknown> = {
      access_token: `at-${randomBytes(8).toString('hex')}`,
      token_type: 'Bearer',
      expires_in: 300,
      refresh_token: `rt-${randomBytes(8).toString('hex')}`,
      scope: p.scope,
      id_token: await idToken(s, issuer, p),
    }
    if (s === 'no-access-token') delete body.access_token
    if (s === 'no-token-type') delete body.token_type
    if (s === 'token-type-mac') body.token_type = 'mac'
    if (s === 'expires-negative') body.expires_in = -30
    if (s === 'expires-absurd') body.expires_in = 10_000_000_000
    if (s === 'no-id-token') delete body.id_token
    return json(res, body)
  }

  /** Handles `/op/<scenario>/…`; returns false for other paths. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const m = /^\/op\/([\w-]+)(\/.*)$/.exec(path)
    if (!m) return false
    const [, s = '', rest] = m
    const issuer = `${base}/op/${s}`
    count(`${s} ${req.method} ${rest}`)
    const url = new URL(req.url ?? '/', base)
    switch (rest) {
      case '/.well-known/openid-configuration':
        json(res, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          registration_endpoint: `${issuer}/reg`,
          ...(s === 'no-revocation' ? {} : { revocation_endpoint: `${issuer}/revoke` }),
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          id_token_signing_alg_values_supported: s === 'advertises-none' ? ['none', 'RS256'] : ['RS256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
          subject_types_supported: ['public'],
          authorization_response_iss_parameter_supported: s !== 'no-iss-support',
        })
        return true
      case '/reg':
        json(
          res,
          {
            client_id: `mint-${randomBytes(6).toString('hex')}`,
            client_secret: randomBytes(16).toString('hex'),
            token_endpoint_auth_method: 'client_secret_basic',
            client_secret_expires_at: 0,
          },
          201,
        )
        return true
      case '/authorize': {
        const q = url.searchParams
        const code = randomBytes(12).toString('hex')
        codes.set(code, {
          ...(q.get('nonce') ? { nonce: q.get('nonce')! } : {}),
          client_id: q.get('client_id') ?? '',
          challenge: q.get('code_challenge') ?? '',
          redirect_uri: q.get('redirect_uri') ?? '',
          scope: q.get('scope') ?? '',
        })
        const back = new URL(q.get('redirect_uri') ?? '')
        back.searchParams.set('state', q.get('state') ?? '')
        if (s === 'authz-error') back.searchParams.set('error', 'server_error')
        else back.searchParams.set('code', code)
        if (s === 'iss-wrong') back.searchParams.set('iss', `${base}/op/elsewhere`)
        else if (s !== 'iss-missing' && s !== 'no-iss-support') back.searchParams.set('iss', issuer)
        res.writeHead(302, { location: back.href })
        res.end()
        return true
      }
      case '/token':
        await token(s, issuer, req, res)
        return true
      case '/jwks':
        if (s === 'jwks-not-json') {
          res.writeHead(200, { 'content-type': 'text/html' })
          res.end('<html>keys</html>')
        } else json(res, { keys: [publicJwk] })
        return true
      case '/revoke':
        res.writeHead(200)
        res.end()
        return true
      case '/__counts':
        json(res, Object.fromEntries([...counts].filter(([k]) => k.startsWith(`${s} `))))
        return true
      default:
        json(res, { error: 'not_found' }, 404)
        return true
    }
  }
}
