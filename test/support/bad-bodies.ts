// Bodies a hostile server sends: 10 MB of JSON padding, or a drip that never ends.
import type { IncomingMessage, ServerResponse } from 'node:http'

export function sendHuge(req: IncomingMessage, res: ServerResponse, bytes = 10 * 1024 * 1024): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  const chunk = ' '.repeat(64 * 1024)
  let sent = 0
  const pump = () => {
    while (sent < bytes) {
      sent += chunk.length
      if (!res.write(chunk)) return void res.once('drain', pump)
    }
    res.end('{}')
  }
  req.socket.on('close', () => {
    sent = Infinity
  })
  pump()
}

export function drip(req: IncomingMessage, res: ServerResponse, onTimer?: (t: NodeJS.Timeout) => void): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  const t = setInterval(() => res.write(' '), 100)
  onTimer?.(t)
  req.socket.on('close', () => clearInterval(t))
}
