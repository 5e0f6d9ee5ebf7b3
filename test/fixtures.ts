// Test configuration of the broker (Node side: vitest.config.ts builds the bindings with it).
import { createHash } from 'node:crypto'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

import { APP, DEMO_RETURN, OTHER_APP, RESTRICTED_APP, STATE_SECRET } from './constants.ts'
// Two keys: k2 encrypts, k1 still decrypts (rotation).
export const TOKEN_KEYS = `k2:${Buffer.alloc(32, 2).toString('base64url')},k1:${Buffer.alloc(32, 1).toString('base64url')}`

export function brokerApps(issuer: string) {
  return [
    {
      id: APP.id,
      secret_sha256: sha(APP.secret),
      return_urls: [DEMO_RETURN, 'http://127.0.0.1:9999/cb'],
      client_name: 'Demo App',
      client_uri: 'https://app.example.test',
      logo_uri: 'https://app.example.test/logo.png',
      policy_uri: 'https://app.example.test/privacy',
      contacts: ['ops@app.example.test'],
    },
    { id: OTHER_APP.id, secret_sha256: sha(OTHER_APP.secret), return_urls: ['https://other.example.test/cb'], client_name: 'Other App' },
    {
      id: RESTRICTED_APP.id,
      secret_sha256: sha(RESTRICTED_APP.secret),
      return_urls: ['https://restricted.example.test/cb'],
      client_name: 'Restricted App',
      allowed_issuers: [issuer],
      allowed_homeservers: [],
    },
  ]
}

export function bindings(inject: { oidcIssuer: string; hostileUrl: string }) {
  return {
    BROKER_APPS: JSON.stringify(brokerApps(inject.oidcIssuer)),
    STATIC_REGISTRATIONS: JSON.stringify({
      [`${inject.hostileUrl}/h/static-only`]: { client_id: 'static-client', client_secret: 'static-secret' },
    }),
    ALLOW_INSECURE_ISSUERS: 'true',
    STATE_SECRET,
    PROVIDER_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'warn',
    TOKEN_ENCRYPTION_KEY: TOKEN_KEYS,
  }
}
