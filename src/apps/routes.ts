// A small public page per app. Matrix servers require a client_uri that is the common base of
// the redirect URI (the broker's callback), so for homeservers this page is the client_uri.
import { Hono } from 'hono'
import { html } from 'hono/html'
import { loadConfig } from '../config/config'
import type { AppEnv } from '../http/types'
import { errorPage } from '../http/pages'

export const appRoutes = new Hono<AppEnv>().get('/apps/:id', (c) => {
  const app = loadConfig(c.env).apps.get(c.req.param('id'))
  if (!app) return errorPage(c, 404, 'Unknown app', 'There is no app with that id on this broker.')
  const link = (label: string, href: string | undefined) => (href ? html`<li><a href="${href}" rel="noopener">${label}</a></li>` : '')
  return c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${app.client_name}</title></head>
<body><main><h1>${app.client_name}</h1>
<p>${app.client_name} signs users in through this token broker.</p>
<ul>${link('Website', app.client_uri)}${link('Privacy policy', app.policy_uri)}${link('Terms of service', app.tos_uri)}</ul>
</main></body></html>`)
})
