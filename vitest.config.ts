import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { bindings } from './test/fixtures.ts'

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        // Values from test/global-setup.ts: the loopback providers.
        bindings: bindings({ oidcIssuer: inject('oidcIssuer'), hostileUrl: inject('hostileUrl') }),
      },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
  },
})
