import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.mutation.config.js';

/**
 * For mutation runs over the workbook readers (docs/mutation/load-workbook.md): the fuzz test covers nearly every
 * reader mutant, takes 18 s a run and asserts only "reads, or fails with a data error", so it made each surviving
 * mutant cost 20 s or more while rarely killing one.
 */
export default mergeConfig(base, defineConfig({ test: { exclude: ['test/transform/workbook/fuzz.test.ts'] } }));
