// App authentication: `Authorization: Basic base64(id:secret)`, checked against the SHA-256
// in BROKER_APPS in constant time. Unknown id and wrong secret take the same path.
import type { Config } from '../config/config'
import type { App } from '../config/schema'
import { digestsEqual, fromHex, sha256 } from '../crypto/hash'
import { BrokerError } from './errors'

const NO_APP = new Uint8Array(32)

const invalidApp = () =>
  new BrokerError('invalid_app', 'App authentication failed: send Authorization: Basic with the app id and secret.', {
    'WWW-Authenticate': 'Basic realm="broker", charset="UTF-8"',
  })

export async function authenticateApp(config: Config, header: string | undefined): Promise<App> {
  const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(header ?? '')
  let decoded = ''
  try {
    decoded = m?.[1]
      ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(m[1]), (ch) => ch.charCodeAt(0)))
      : ''
  } catch {
    decoded = ''
  }
  const colon = decoded.indexOf(':')
  const id = colon > 0 ? decoded.slice(0, colon) : ''
  const secret = colon > 0 ? decoded.slice(colon + 1) : ''
  const app = config.apps.get(id)
  const expected = app ? fromHex(app.secret_sha256) : NO_APP
  const ok = digestsEqual(await sha256(secret), expected)
  if (!app || !ok || secret === '') throw invalidApp()
  return app
}
