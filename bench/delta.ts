import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { monthlySheets } from '../test/fixtures/ons/monthly-workbook.js';
import { writeWorkbook } from '../test/helpers/workbook-writer.js';
import { runProcess, type Measurer, type Result, type Run } from './measure.js';

export const DELTA_SCENARIOS = ['refresh-1-of-10-hive', 'refresh-1-of-10-delta'] as const;

/**
 * A 10-partition ONS table (editions 2010-2019), then one edition refreshed: today's Hive partition rewrite
 * (`--partition-by edition`) against a Delta commit (`--format delta --partition-by edition`: a new file for the
 * edition, one remove + one add). Each timed run alternates edition 2019 between two contents, so every run
 * really rewrites one partition; both read the same 10 workbooks. Goal: Delta under 2x the Hive rewrite.
 */
export async function benchDelta(options: { measurer: Measurer; work: string; runs: number; wanted: (id: string) => boolean; log: (line: string) => void }): Promise<Result[]> {
  const { measurer, work, runs, wanted } = options;
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
    // A table of its own per build (against --baseline): each refreshes what it wrote.
    const tables = new Map<string, { out: string; dataDir: string; turn: number }>();
    const once = async (cli: string): Promise<Run> => {
      const table = tables.get(cli) ?? { out: path.join(work, `${id}-out-${tables.size}`), dataDir: path.join(work, `${id}-data-${tables.size}`), turn: 0 };
      tables.set(cli, table);
      const run = await runProcess(process.execPath, [cli, 'transform', 'ons', '--data-dir', table.dataDir, '--input', inputs[table.turn++ % 2]!, ...flags, '--out', table.out]);
      if (!/transform: \d+ rows/.test(run.stdout)) throw new Error(`${id}: ${run.stdout}${run.stderr}`);
      return run;
    };
    // The warm-up writes the table with all 10 editions; the timed runs each refresh edition 2019 only.
    results.push(await measurer.cli(id, `10-edition ONS table, refresh edition 2019: ${id.endsWith('delta') ? 'Delta commit (remove + add)' : 'Hive partition rewrite (today)'}`, { runs, warmUp: true }, once));
  }
  return results;
}
