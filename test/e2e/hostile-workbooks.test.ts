import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileWorkbooks } from '../fixtures/ons/hostile-workbooks.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

let work: string;
let previous: Buffer;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-hostile-'));
  const good = path.join(work, 'good.xlsx');
  await writeWorkbook(good, monthlySheets({ year: 2019 }));
  expect((await runCli(['transform', 'ons', '--input', good, '--out', path.join(work, 'good.parquet')])).code).toBe(0);
  previous = await readFile(path.join(work, 'good.parquet'));
});

/** A folder of its own per case (they run two at a time) holding the previous good output. */
async function outputWithPrevious(name: string): Promise<string> {
  const dir = path.join(work, `out-${name}`);
  await mkdir(dir);
  await writeFile(path.join(dir, 'deaths.parquet'), previous);
  return path.join(dir, 'deaths.parquet');
}
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

// Each run gets a 400 MB heap: a reader that holds what it should stream dies instead of passing.
const BOUNDED = { NODE_OPTIONS: '--max-old-space-size=400' };

// Mostly waiting on child processes: two at a time halves the wall time on two cores.
describe.concurrent('a hostile workbook ends in one clean error', () => {
  it.each(hostileWorkbooks.map((hostile, i) => [hostile.name, hostile, i] as const))('%s', async (_name, hostile, i) => {
    const file = await hostile.write(work);
    const out = await outputWithPrevious(String(i));
    const result = await runCli(['transform', 'ons', '--input', file, '--out', out], { env: { ...BOUNDED, ...hostile.env } });

    expect(result.code).toBe(hostile.exitCode);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(hostile.message);
    // Nothing raw from the file reaches the terminal.
    expect(lines[0]).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(await readFile(out)).toEqual(previous);
    expect((await readdir(path.dirname(out))).filter((name) => name !== 'deaths.parquet')).toEqual([]);
    await rm(file);
  });

  it('a limit set to something that is not a number is a usage error', async () => {
    const result = await runCli(['transform', 'ons', '--input', path.join(work, 'good.xlsx'), '--out', path.join(work, 'good.parquet')], { env: { ETL_WORKBOOK_MAX_CELL_CHARS: 'lots' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ETL_WORKBOOK_MAX_CELL_CHARS="lots" is not a limit/);
  });
});
