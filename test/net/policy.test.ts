// The URL policy and metadata checks that an end-to-end test cannot reach without TLS on
// loopback: an https provider whose metadata names http or private endpoints.
import { describe, expect, it } from 'vitest'
import { checkMetadata } from '../../src/discovery/metadata'
import { BrokerError } from '../../src/http/errors'
import { refuseReason } from '../../src/net/url-policy'

const doc = (patch: Record<string, unknown> = {}) => ({
  issuer: 'https://id.example',
  authorization_endpoint: 'https://id.example/authorize',
  token_endpoint: 'https://id.example/token',
  jwks_uri: 'https://id.example/jwks',
  response_types_supported: ['code'],
  code_challenge_methods_supported: ['S256'],
  ...patch,
})

describe('URL policy', () => {
  it.each([
    ['https://id.example', false, undefined],
    ['https://8.8.8.8', false, undefined],
    ['https://[2001:db8::1]', false, undefined],
    ['http://id.example', false, /https/],
    ['https://user@id.example', false, /credentials/],
    ['https://[::ffff:10.0.0.1]', false, /private/],
    ['https://[64:ff9b::a00:1]', false, /private/],
    ['https://198.18.0.1', false, /private/],
    ['https://224.0.0.1', false, /private/],
    ['http://127.0.0.1:8080', true, undefined],
    ['ftp://id.example', true, /http/],
  ])('%s (insecure allowed: %s)', (url, insecure, reason) => {
    const r = refuseReason(new URL(url), insecure)
    if (reason) expect(r).toMatch(reason)
    else expect(r).toBeUndefined()
  })
})

describe('metadata checks', () => {
  const check = (d: unknown, source: 'openid-configuration' | 'auth_metadata' = 'openid-configuration') =>
    checkMetadata(d, source, false, 'Discovery of https://id.example')

  it('accepts a good document', () => {
    expect(check(doc()).token_endpoint).toBe('https://id.example/token')
  })

  it.each([
    ['an http token endpoint', { token_endpoint: 'http://id.example/token' }, /token_endpoint is not allowed/],
    ['a private userinfo endpoint', { userinfo_endpoint: 'https://10.0.0.5/userinfo' }, /userinfo_endpoint is not allowed/],
    ['a loopback revocation endpoint', { revocation_endpoint: 'https://localhost/revoke' }, /revocation_endpoint is not allowed/],
    ['no authorization endpoint', { authorization_endpoint: undefined }, /authorization_endpoint/],
    ['an endpoint that is no URL', { token_endpoint: 'token' }, /token_endpoint/],
    ['plain PKCE only', { code_challenge_methods_supported: ['plain'] }, /PKCE/],
    ['no jwks_uri for OpenID', { jwks_uri: undefined }, /jwks_uri/],
  ])('refuses %s', (_name, patch, message) => {
    expect(() => check(doc(patch))).toThrow(BrokerError)
    expect(() => check(doc(patch))).toThrow(message)
  })

  it('requires S256 to be listed in OAuth (MSC2965) metadata', () => {
    expect(() => check(doc({ code_challenge_methods_supported: undefined }), 'auth_metadata')).toThrow(/PKCE/)
    expect(check(doc({ code_challenge_methods_supported: undefined })).issuer).toBe('https://id.example')
  })
})
