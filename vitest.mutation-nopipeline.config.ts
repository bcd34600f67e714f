import { defineConfig, mergeConfig } from 'vitest/config';
import mutation from './vitest.mutation.config.js';

/**
 * `vitest.mutation.config.ts` without `test/run/pipeline-in-process.test.ts`: each of its tests runs whole pipelines
 * (extract, transform, load) and together they reach most of `src/run`, so every mutant of a file they touch costs
 * about 8 s more; on this shared 2-core machine a `src/run` run with it takes hours (docs/mutation/run-commands.md).
 * Scores measured with this config are lower bounds: a mutant only that file would kill counts as survived.
 */
const base = mutation as { test?: { exclude?: string[] } };
export default mergeConfig(mutation, defineConfig({ test: { exclude: [...(base.test?.exclude ?? []), 'test/run/pipeline-in-process.test.ts'] } }));
