import { Hono } from 'hono'
import type { AppEnv } from './types'

// Liveness only: it does not read config, so a broken config still shows the Worker runs.
export const healthRoutes = new Hono<AppEnv>().get('/healthz', (c) => c.json({ ok: true }))
