// The two pages at `/`: the demo app (when configured) and a minimal landing page (when not).
// Plain HTML that works with a keyboard and a screen reader; the script (./script.ts) only
// fills in the session and the event log. Logging in is a plain form, so it works without it.
import { html } from 'hono/html'
import type { Ctx } from '../http/types'
import type { DemoConfig } from './config'

// No inline script, and the page may talk only to its own origin (the /demo/api/* proxy, whose
// WebSocket 'self' covers too).
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

const STYLE = html`<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5 }
  body { margin: 0 auto; max-width: 46rem; padding: 1rem }
  header, footer { color: GrayText } section { margin-block: 1.5rem }
  fieldset { border: 1px solid GrayText; border-radius: .4rem; padding: .75rem 1rem }
  .choice { margin-block: .5rem } .choice input[type=url], .choice input[type=text] { display: block; width: 100%; max-width: 28rem; margin-top: .25rem; font: inherit; padding: .3rem }
  button, .button { font: inherit; padding: .4rem .9rem; margin-right: .5rem; cursor: pointer }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem } dt { font-weight: 600 } dd { margin: 0; overflow-wrap: anywhere }
  #events { font-family: ui-monospace, monospace; font-size: .9rem; padding-left: 1.5rem }
  #status:empty { display: none } #status { padding: .5rem .75rem; border-left: .25rem solid Highlight }
  :focus-visible { outline: 3px solid Highlight; outline-offset: 2px }
</style>`

function page(c: Ctx, title: string, body: unknown) {
  c.header('Cache-Control', 'no-store')
  c.header('Content-Security-Policy', CSP)
  c.header('Referrer-Policy', 'no-referrer')
  return c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>${STYLE}</head>
<body>${body}</body></html>`)
}

export function landingPage(c: Ctx) {
  return page(
    c,
    'Edge token broker',
    html`<main>
<h1>Edge token broker</h1>
<p>An OAuth 2.0 / OpenID Connect token broker for Cloudflare Workers: apps hand it discovery,
client registration, login, refresh and logout, and get a session handle back.</p>
<p>The HTTP API lives under <code>/v1/</code>: see the <a href="/docs">interactive API docs</a>
(<a href="/openapi.json">OpenAPI</a>). Its contract is <code>docs/api-v1.md</code>, and the
<code>README.md</code> of the broker's source describes every route, the login flow and the
sessions. <a href="/healthz">Health check</a>.</p>
</main>`,
  )
}

export function demoPage(c: Ctx, demo: DemoConfig, hasSession: boolean) {
  const local = demo.localIssuer
  return page(
    c,
    'Broker demo app',
    html`<header><p>Edge token broker · demo app <code>${demo.appId}</code></p></header>
<main>
<h1>Broker demo app</h1>
<p>This page plays an app that signs people in through the broker. The session handle stays in
an HttpOnly cookie that this page's script cannot read; the script sees the session's user, scope
and expiry, and of the access token only the start of its SHA-256.</p>
<p id="status" role="status" aria-live="polite"></p>

<section id="login" aria-labelledby="login-h"${hasSession ? html` hidden` : ''}>
<h2 id="login-h" tabindex="-1">Log in</h2>
<form method="get" action="/demo/login">
<fieldset>
<legend>Where do you have an account?</legend>
${
  local
    ? html`<div class="choice"><input type="radio" name="provider" id="p-local" value="local" checked>
<label for="p-local">The embedded provider (<code>${local}</code>, logs in “alice”)</label></div>`
    : ''
}
<div class="choice"><input type="radio" name="provider" id="p-issuer" value="issuer"${local ? '' : html` checked`}>
<label for="p-issuer">An OpenID Connect provider</label>
<label for="issuer" class="sub">Issuer URL</label>
<input type="url" id="issuer" name="issuer" inputmode="url" autocomplete="url" placeholder="https://accounts.example.com" data-for="p-issuer"></div>
<div class="choice"><input type="radio" name="provider" id="p-homeserver" value="homeserver">
<label for="p-homeserver">A Matrix homeserver</label>
<label for="homeserver" class="sub">Homeserver URL or server name</label>
<input type="text" id="homeserver" name="homeserver" autocomplete="off" spellcheck="false" placeholder="matrix.example.org" data-for="p-homeserver"></div>
</fieldset>
<p><button type="submit">Log in</button></p>
</form>
</section>

<section id="session" aria-labelledby="session-h"${hasSession ? '' : html` hidden`}>
<h2 id="session-h" tabindex="-1">Your session</h2>
<dl>
<dt>User</dt><dd id="user">…</dd>
<dt>Provider</dt><dd id="issuer-out">…</dd>
<dt>Scope</dt><dd id="scope">…</dd>
<dt>Access token</dt><dd>SHA-256 starts with <code id="token-hash">…</code></dd>
<dt>Expires in</dt><dd><span id="countdown" role="timer" aria-live="off">…</span></dd>
<dt>Refreshed</dt><dd id="refresh-count">…</dd>
</dl>
<p><button type="button" id="refresh">Refresh the token now</button>
<a id="account" class="button" href="/demo/account" hidden target="_blank" rel="noopener noreferrer">Account page at the provider</a><span id="no-account" hidden></span>
<button type="button" id="logout">Log out</button></p>
</section>

<section aria-labelledby="events-h">
<h2 id="events-h">Live events</h2>
<p id="ws-state">Not connected.</p>
<ol id="events" role="log" aria-live="polite" aria-relevant="additions"></ol>
</section>
</main>
<footer><p>Events come from <code>GET /v1/session/events</code> through this demo's WebSocket proxy.
<a href="/docs">API docs</a>.</p></footer>
<script src="/demo/app.js" defer></script>`,
  )
}
