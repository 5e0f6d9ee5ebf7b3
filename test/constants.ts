// Test apps and secrets, importable from both Node (vitest.config.ts) and workerd (tests).
export const APP = { id: 'demo', secret: 'demo-secret-0123456789' }
export const OTHER_APP = { id: 'other', secret: 'other-secret-0123456789' }
export const RESTRICTED_APP = { id: 'restricted', secret: 'restricted-secret-0123456789' }
export const STATE_SECRET = 'test-state-secret-that-is-long-enough-0123456789'
export const DEMO_RETURN = 'https://app.example.test/done'
