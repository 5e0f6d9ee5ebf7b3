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
    // Some tests drive 1,000 concurrent callers or wait out provider timeouts on 2 cores.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
