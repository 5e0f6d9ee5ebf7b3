import { Hono } from 'hono'
import { html } from 'hono/html'
import type { AppEnv } from '../http/types'
import { DEVICE_OPERATIONS } from '../device/openapi'
import { RENDEZVOUS_OPERATIONS } from '../rendezvous/openapi'
import { buildOpenApi } from './openapi'

let doc: Record<string, unknown> | undefined

export const apiDocRoutes = new Hono<AppEnv>()
  .get('/openapi.json', (c) => {
    doc ??= buildOpenApi([...DEVICE_OPERATIONS, ...RENDEZVOUS_OPERATIONS])
    c.header('Cache-Control', 'public, max-age=300')
    return c.json(doc)
  })
  // Interactive docs: Swagger UI from a CDN, pointed at /openapi.json.
  .get('/docs', (c) =>
    c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Edge token broker API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><main id="ui"><h1>Edge token broker API</h1><p>Loading the interactive docs… The document itself is at <a href="/openapi.json">/openapi.json</a>.</p></main>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
<script>window.SwaggerUIBundle && SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' })</script>
</body></html>`),
  )
