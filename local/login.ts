// `npm run login -- --issuer URL` (or --homeserver NAME): a headless app's login from a
// terminal. Asks the broker for a login URL (POST /v1/login), prints it for a browser, waits
// on the app's loopback return URL for the broker code, redeems it (POST /v1/sessions) and
// prints the session (handle included: keep it like a password).
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: process.env.BROKER_URL ?? 'http://127.0.0.1:8787' },
    app: { type: 'string', default: process.env.BROKER_APP ?? 'demo:demo-secret' },
    issuer: { type: 'string' },
    homeserver: { type: 'string' },
    'return-to': { type: 'string', default: process.env.BROKER_RETURN_TO ?? 'http://127.0.0.1:8976/callback' },
    timeout: { type: 'string', default: '300' },
  },
})
if (!values.issuer === !values.homeserver) {
  console.error('usage: npm run login -- (--issuer URL | --homeserver NAME) [--broker URL] [--app id:secret] [--return-to URL]')
  process.exit(2)
}
const returnTo = new URL(values['return-to'])
const auth = `Basic ${Buffer.from(values.app).toString('base64')}`
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${values.broker}${path}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await res.json()) as Record<string, unknown>
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error}: ${json.error_description}`)
  return json
}

const state = crypto.randomUUID()
const target = values.issuer ? { issuer: values.issuer } : { homeserver: values.homeserver }
const { url } = await post('/v1/login', { ...target, return_to: returnTo.href, state })

// The return URL must be a loopback URL of the app that this process can listen on.
const code = await new Promise<string>((resolve, reject) => {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', returnTo)
    if (u.pathname !== returnTo.pathname) return void res.writeHead(404).end()
    const done = (msg: string) => res.writeHead(200, { 'content-type': 'text/plain' }).end(msg)
    if (u.searchParams.get('state') !== state) return done('Unexpected state: ignored.')
    const error = u.searchParams.get('error')
    server.close()
    if (error) {
      done(`Login failed: ${error}`)
      return reject(new Error(`${error}: ${u.searchParams.get('error_description')}`))
    }
    done('Logged in. You can close this window.')
    resolve(u.searchParams.get('code') ?? '')
  })
  server.on('error', reject)
  server.listen(Number(returnTo.port || 80), returnTo.hostname)
  setTimeout(() => reject(new Error('timed out waiting for the browser')), Number(values.timeout) * 1000).unref()
  console.error(`Open this URL in a browser to log in:\n\n  ${url}\n`)
})
console.log(JSON.stringify(await post('/v1/sessions', { code }), null, 2))
