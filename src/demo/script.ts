// The demo page's script, served as /demo/app.js (a file rather than inline, so the page's CSP
// can forbid inline script). Plain browser JavaScript, no build step: it only reads the
// /demo/api/* proxy, which never hands it the session handle or a token.
export const DEMO_SCRIPT = String.raw`'use strict'
const $ = (id) => document.getElementById(id)
let loggedIn = !$('session').hidden
let deadline = null
let ws = null
let retry = 0
let pinger = null

function say(text) { $('status').textContent = text }

function logEvent(text) {
  const li = document.createElement('li')
  const t = document.createElement('time')
  const now = new Date()
  t.dateTime = now.toISOString()
  t.textContent = now.toLocaleTimeString()
  li.append(t, ' ', text)
  $('events').append(li)
}

async function api(method, path) {
  const res = await fetch('/demo/api/' + path, { method, headers: { accept: 'application/json' }, credentials: 'same-origin' })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) {
    const e = new Error(body.error_description || 'HTTP ' + res.status)
    e.code = body.error
    e.status = res.status
    throw e
  }
  return body
}

function fmt(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60
  return (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + s + ' s'
}

function tick() {
  const el = $('countdown')
  if (deadline === null) { el.textContent = 'no lifetime given'; return }
  const left = Math.max(0, Math.round((deadline - Date.now()) / 1000))
  el.dataset.seconds = String(left)
  el.textContent = left > 0 ? fmt(left) : 'expired (the next call refreshes it)'
}
setInterval(tick, 1000)

function showToken(t) {
  $('token-hash').textContent = t.token_sha256_prefix + '…'
  // expires_in is computed by the server, so a wrong clock here does not skew the countdown.
  deadline = t.expires_in === null ? null : Date.now() + t.expires_in * 1000
  tick()
}

function showInfo(info) {
  $('user').textContent = info.user.user_id || info.user.sub || '(unknown)'
  $('issuer-out').textContent = info.issuer
  $('scope').textContent = info.scope || '(none)'
  $('refresh-count').textContent = info.refresh_count === 1 ? 'once' : info.refresh_count + ' times'
}

function showLogin(message) {
  const wasIn = loggedIn
  loggedIn = false
  deadline = null
  $('session').hidden = true
  $('login').hidden = false
  if (message) say(message)
  if (wasIn) $('login-h').focus()
  // The socket is left open: after a logout the broker sends logged_out and closes it itself,
  // and closing it here could lose that last event.
}

async function loadAccount() {
  const a = $('account'), none = $('no-account')
  try {
    const { available } = await api('GET', 'account')
    a.hidden = !available
    none.hidden = available
    none.textContent = available ? '' : 'This provider has no account page.'
  } catch (e) {
    a.hidden = true
    none.hidden = false
    none.textContent = 'No account page: ' + e.message
  }
}

async function refreshView() {
  const [info, token] = await Promise.all([api('GET', 'session'), api('POST', 'token')])
  showInfo(info)
  showToken(token)
}

function onEvent(ev) {
  if (ev.type === 'pong') return
  if (ev.type === 'tokens_refreshed') {
    logEvent('tokens_refreshed — new token valid until ' + (ev.expires_at ? new Date(ev.expires_at * 1000).toLocaleTimeString() : 'further notice'))
    refreshView().catch((e) => say('Could not read the new token: ' + e.message))
  } else if (ev.type === 'reauth_required') {
    logEvent('reauth_required — the provider refused to refresh')
    showLogin('The provider ended this session: log in again.')
    if (ws) ws.close()
  } else if (ev.type === 'logged_out') {
    logEvent('logged_out — the session is over')
    showLogin('')
  } else {
    logEvent(String(ev.type))
  }
}

function connect() {
  if (ws || !loggedIn) return
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/demo/api/events')
  ws = socket
  socket.onopen = () => {
    retry = 0
    $('ws-state').textContent = 'Connected: waiting for events.'
    pinger = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send('ping'), 25000)
  }
  socket.onmessage = (m) => {
    let ev
    try { ev = JSON.parse(m.data) } catch { return }
    if (ev && typeof ev.type === 'string') onEvent(ev)
  }
  socket.onclose = () => {
    clearInterval(pinger)
    ws = null
    $('ws-state').textContent = 'Not connected.'
    if (loggedIn) setTimeout(connect, Math.min(30000, 1000 * 2 ** retry++))
  }
}

async function loadSession() {
  try {
    const info = await api('GET', 'session')
    showInfo(info)
    showToken(await api('POST', 'token'))
    connect()
    loadAccount()
  } catch (e) {
    if (e.status === 401) showLogin(e.code === 'reauth_required' ? 'The provider ended this session: log in again.' : 'You are not logged in.')
    else say('Could not load the session: ' + e.message)
  }
}

$('refresh').addEventListener('click', async (ev) => {
  const button = ev.currentTarget
  button.disabled = true
  say('Refreshing…')
  try {
    const t = await api('POST', 'refresh')
    showToken(t)
    showInfo(await api('GET', 'session'))
    say('Refreshed: a new access token (SHA-256 ' + t.token_sha256_prefix + '…).')
  } catch (e) {
    if (e.status === 401) showLogin('The session is over: ' + e.message)
    else say('The refresh failed: ' + e.message)
  } finally {
    button.disabled = false
  }
})

$('logout').addEventListener('click', async (ev) => {
  const button = ev.currentTarget
  button.disabled = true
  try {
    const r = await api('POST', 'logout')
    const yes = (b) => (b ? 'revoked' : 'not revoked')
    showLogin('Logged out. At the provider: refresh token ' + yes(r.revoked.refresh_token) + ', access token ' + yes(r.revoked.access_token) + '.')
  } catch (e) {
    if (e.status === 401) showLogin('You were already logged out.')
    else say('The logout failed: ' + e.message)
  } finally {
    button.disabled = false
  }
})

// Typing an issuer or a homeserver picks that choice.
for (const input of document.querySelectorAll('input[data-for]')) {
  input.addEventListener('input', () => { $(input.dataset.for).checked = true })
}

if (loggedIn) loadSession()
`
