import { defineConfig, mergeConfig } from 'vitest/config';
import mutation from './vitest.mutation.config.js';

// For errors.ts and redact.ts only: settings.test.ts reloads them (vi.resetModules), which makes Stryker run their module-level constants.
export default mergeConfig(mutation, defineConfig({ test: { exclude: ['test/core/settings.test.ts'] } }));
