import { Hono } from 'hono'
import { discoverTarget, TargetSchema } from '../discovery/target'
import { authenticateApp } from '../http/app-auth'
import { originOf, runtimeOf, type AppEnv } from '../http/types'
import { limitBody, readJson } from '../http/validate'
import { getRegistration } from './service'

export const registrationRoutes = new Hono<AppEnv>().post('/v1/registrations', limitBody, async (c) => {
  const rt = runtimeOf(c)
  const app = await authenticateApp(rt.config, c.req.header('authorization'))
  const target = await readJson(c, TargetSchema.strict())
  const d = await discoverTarget(rt, target, app)
  const reg = await getRegistration(rt, app, d, originOf(c, rt))
  c.header('Cache-Control', 'no-store')
  return c.json({ issuer: reg.issuer, client_id: reg.client_id, source: reg.source })
})
