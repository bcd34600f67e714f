import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (wall seconds in a fresh-clone CI run, 2026-12-07), longest first. CI starts from a
 * clean clone, so vitest has no durations cached and orders each project's files by size: package-install.test.ts
 * (25 s, mostly npm) is small, ran last, and the suite waited for it alone.
 */
const SLOWEST = [
  'test/run/pipeline.test.ts',
  'test/load/load-contract.test.ts',
  'test/delta/delta-cli.test.ts',
  'test/e2e/package-install.test.ts',
  'test/e2e/supermetrics.test.ts',
  'test/load/load-interrupted.test.ts',
  'test/e2e/extract-faults.test.ts',
  'test/e2e/random-person.test.ts',
  'test/e2e/serve.test.ts',
  'test/load/load-files.test.ts',
  'test/delta/write-table.test.ts',
  'test/sources/postgres.test.ts',
  'test/sources/postgres-types.test.ts',
  'test/core/http.test.ts',
  'test/e2e/interrupt.test.ts',
  'test/transform/workbook/fuzz.test.ts',
  'test/e2e/hostile-workbooks.test.ts',
  'test/e2e/transform-faults.test.ts',
];

/** vitest's order (each project's files together), with the slowest files of each project started first. */
export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const projectOrder = new Map<string, number>();
    for (const file of sorted) if (!projectOrder.has(file.project.name)) projectOrder.set(file.project.name, projectOrder.size);
    const rank = (file: TestSpecification): number => {
      const at = SLOWEST.indexOf(path.relative(this.ctx.config.root, file.moduleId).split(path.sep).join('/'));
      return at === -1 ? SLOWEST.length : at;
    };
    return sorted
      .map((file, index) => ({ file, index, project: projectOrder.get(file.project.name)!, rank: rank(file) }))
      .sort((a, b) => a.project - b.project || a.rank - b.rank || a.index - b.index)
      .map(({ file }) => file);
  }
}
