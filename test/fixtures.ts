// Test configuration of the broker, shared by vitest.config.ts (bindings) and the tests.
import { createHash } from 'node:crypto'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

export const APP = { id: 'demo', secret: 'demo-secret-0123456789' }
export const OTHER_APP = { id: 'other', secret: 'other-secret-0123456789' }
export const RESTRICTED_APP = { id: 'restricted', secret: 'restricted-secret-0123456789' }
export const STATE_SECRET = 'test-state-secret-that-is-long-enough-0123456789'

export function brokerApps(issuer: string) {
  return [
    {
      id: APP.id,
      secret_sha256: sha(APP.secret),
      return_urls: ['https://app.example.test/done', 'http://127.0.0.1:9999/cb'],
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
      [`${inject.hostileUrl}/h/no-registration`]: { client_id: 'static-client', client_secret: 'static-secret' },
    }),
    ALLOW_INSECURE_ISSUERS: 'true',
    STATE_SECRET,
    PROVIDER_TIMEOUT_MS: '1000',
  }
}
