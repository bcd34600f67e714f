import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { monthlySheets } from '../test/fixtures/ons/monthly-workbook.js';
import { writeWorkbook } from '../test/helpers/workbook-writer.js';
import { measure, runProcess, type Result, type Run } from './measure.js';

export const DELTA_SCENARIOS = ['refresh-1-of-10-hive', 'refresh-1-of-10-delta'] as const;

/**
 * A 10-partition ONS table (editions 2010-2019), then one edition refreshed: today's Hive partition rewrite
 * (`--partition-by edition`) against a Delta commit (`--format delta --partition-by edition`: a new file for the
 * edition, one remove + one add). Each timed run alternates edition 2019 between two contents, so every run
 * really rewrites one partition; both read the same 10 workbooks. Goal: Delta under 2x the Hive rewrite.
 */
export async function benchDelta(options: { etl: string; work: string; runs: number; wanted: (id: string) => boolean; log: (line: string) => void }): Promise<Result[]> {
  const { etl, work, runs, wanted } = options;
  const inputs = [path.join(work, 'delta-in-a'), path.join(work, 'delta-in-b')];
  for (const [variant, dir] of inputs.entries()) {
    await mkdir(dir, { recursive: true });
    for (let year = 2010; year <= 2019; year++) {
      await writeWorkbook(path.join(dir, `publishedoutput${year}.xls`), monthlySheets({ year, publishedMonths: year === 2019 && variant === 1 ? 6 : 12 }));
    }
  }
  const results: Result[] = [];
  for (const [id, flags] of [['refresh-1-of-10-hive', ['--partition-by', 'edition']], ['refresh-1-of-10-delta', ['--format', 'delta', '--partition-by', 'edition']]] as const) {
    if (!wanted(id)) continue;
    const out = path.join(work, `${id}-out`);
    await rm(out, { recursive: true, force: true });
    const dataDir = path.join(work, `${id}-data`);
    let turn = 0;
    const once = async (): Promise<Run> => {
      const run = await runProcess(process.execPath, [etl, 'transform', 'ons', '--data-dir', dataDir, '--input', inputs[turn++ % 2]!, ...flags, '--out', out]);
      if (!/transform: \d+ rows/.test(run.stdout)) throw new Error(`${id}: ${run.stdout}${run.stderr}`);
      return run;
    };
    await once(); // the table with all 10 editions; the timed runs each refresh edition 2019 only
    results.push(await measure(id, `10-edition ONS table, refresh edition 2019: ${id.endsWith('delta') ? 'Delta commit (remove + add)' : 'Hive partition rewrite (today)'}`, { runs }, once));
  }
  return results;
}
