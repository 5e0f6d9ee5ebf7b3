// Composition only: the app shell, the route modules, the Durable Object classes.
import { apiDocRoutes } from './api/routes'
import { appRoutes } from './apps/routes'
import { demoRoutes } from './demo/routes'
import { deviceRoutes } from './device/routes'
import { discoveryRoutes } from './discovery/routes'
import { createApp, finish } from './http/app'
import { healthRoutes } from './http/health'
import { loginRoutes } from './login/routes'
import { registrationRoutes } from './registration/routes'
import { rendezvousRoutes } from './rendezvous/routes'
import { sessionRoutes } from './session/routes'

export { DeviceLogin } from './device/device-login'
export { Registrar } from './registration/registrar'
export { Rendezvous } from './rendezvous/rendezvous'
export { Session } from './session/session'

const app = createApp()
app.route('/', healthRoutes)
app.route('/', discoveryRoutes)
app.route('/', registrationRoutes)
app.route('/', loginRoutes)
app.route('/', sessionRoutes)
app.route('/', deviceRoutes)
app.route('/', rendezvousRoutes)
app.route('/', appRoutes)
app.route('/', demoRoutes)
app.route('/', apiDocRoutes)
finish(app, [
  '/healthz',
  '/v1/discovery',
  '/v1/registrations',
  '/v1/login',
  '/v1/callback',
  '/v1/sessions',
  '/v1/sessions/import',
  '/v1/session',
  '/v1/session/token',
  '/v1/session/refresh',
  '/v1/session/logout',
  '/v1/session/account',
  '/v1/session/scope',
  '/v1/session/events',
  '/v1/device',
  '/v1/device/poll',
  '/_matrix/client/unstable/org.matrix.msc4108/rendezvous',
  '/_matrix/client/unstable/org.matrix.msc4108/rendezvous/:id',
  '/_matrix/client/unstable/io.element.msc4388/rendezvous',
  '/_matrix/client/unstable/io.element.msc4388/rendezvous/:id',
  '/apps/:id',
  '/openapi.json',
  '/docs',
  '/',
  '/demo/app.js',
  '/demo/login',
  '/demo/callback',
  '/demo/api/session',
  '/demo/api/token',
  '/demo/api/refresh',
  '/demo/api/account',
  '/demo/api/logout',
  '/demo/api/events',
  '/demo/account',
])

export default { fetch: app.fetch } satisfies ExportedHandler<Env>
