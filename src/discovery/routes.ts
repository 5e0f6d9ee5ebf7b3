import { Hono } from 'hono'
import { runtimeOf, type AppEnv } from '../http/types'
import { readQuery } from '../http/validate'
import { discoverTarget, TargetSchema } from './target'

export const discoveryRoutes = new Hono<AppEnv>().get('/v1/discovery', async (c) => {
  const rt = runtimeOf(c)
  const d = await discoverTarget(rt, readQuery(c, TargetSchema.strict()))
  c.header('Cache-Control', 'public, max-age=60')
  return c.json({ issuer: d.issuer, metadata: d.metadata, source: d.source, ...(d.homeserver ? { homeserver: d.homeserver } : {}) })
})
