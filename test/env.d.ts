// Values handed from test/global-setup.ts (Node) to the tests and vitest.config.ts via provide()/inject().
declare module 'vitest' {
  export interface ProvidedContext {
    oidcIssuer: string
    labUrl: string
    hostileUrl: string
    fuzz: { runs: number; seed: number }
  }
}
export {}
