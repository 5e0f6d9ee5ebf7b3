// Browser-facing errors: a plain 400/404 page, never a redirect (the target is not trusted).
import { html } from 'hono/html'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Ctx } from './types'

export function errorPage(c: Ctx, status: ContentfulStatusCode, title: string, detail: string, code?: string) {
  c.header('Cache-Control', 'no-store')
  c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
  return c.html(
    html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title></head>
<body><main><h1>${title}</h1><p>${detail}</p>${code ? html`<p><code>${code}</code></p>` : ''}</main></body></html>`,
    status,
  )
}
