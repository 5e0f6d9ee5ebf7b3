// @hono/oidc-auth as its README shows it: the middleware on a protected route, the callback
// handled by processOAuthCallback. A request to /login without a session cookie answers the
// redirect to the provider's authorization endpoint — the figure compared with the broker's
// GET /v1/login.
import { oidcAuthMiddleware, processOAuthCallback } from '@hono/oidc-auth'
import { Hono } from 'hono'

const app = new Hono()
app.get('/callback', (c) => processOAuthCallback(c))
app.use('/login', oidcAuthMiddleware())
app.get('/login', (c) => c.text('logged in'))
app.get('/healthz', (c) => c.json({ ok: true }))

export default app
