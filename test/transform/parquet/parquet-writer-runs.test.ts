import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { RowRuns, type Column, type Row, type RowBatch, type RowRun, type Table } from '../../../src/core/table.js';
import { MAX_ROW_GROUP_ROWS } from '../../../src/transform/parquet/parquet-file.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

/** Rows handed over as runs (RowRuns) must make the very file the same rows in arrays make. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-runs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COLUMNS: Column[] = [
  { name: 'edition', type: 'int32', nullable: false },
  { name: 'month', type: 'date', nullable: false },
  { name: 'name', type: 'string', nullable: false },
  { name: 'extra', type: 'string', nullable: true },
  { name: 'deaths', type: 'int64', nullable: true },
];

const MONTHS = Array.from({ length: 7 }, (_, m) => new Date(Date.UTC(2020, m, 1)));

/** One run per area: 7 months each, so row group ends fall inside runs; every fifth area has an extra text. */
function areaRuns(areas: number): RowRun[] {
  return Array.from({ length: areas }, (_, a) => ({
    fields: { edition: 2020, month: null, name: `Area ${a}`, ...(a % 5 === 0 ? { extra: `x${a % 3}` } : {}), deaths: null },
    count: MONTHS.length,
    varying: { month: MONTHS, deaths: MONTHS.map((_, m) => ((a + m) % 11 === 0 ? null : a * 7 + m)) },
  }));
}

/** The runs in batches of `perBatch` runs, as RowRuns or as the same rows in arrays. */
function tableOf(runs: RowRun[], perBatch: number, asRuns: boolean): Table {
  const batches: RowBatch[] = [];
  for (let i = 0; i < runs.length; i += perBatch) {
    const slice = runs.slice(i, i + perBatch);
    const batch = new RowRuns(slice, slice.reduce((sum, run) => sum + run.count, 0));
    batches.push(asRuns ? batch : batch.rows());
  }
  return {
    schema: { name: 'runs', columns: COLUMNS },
    parts: (async function* () {
      yield { name: 'part', rows: (async function* (): AsyncGenerator<Row> {})(), batches: (async function* () {
        yield* batches;
      })() };
    })(),
  };
}

describe('the parquet writer, rows as runs', () => {
  it('writes the same bytes from runs as from the same rows in arrays, with row groups ending inside runs', async () => {
    const runs = areaRuns(Math.ceil((MAX_ROW_GROUP_ROWS + 1000) / MONTHS.length));
    const fromRuns = path.join(dir, 'runs.parquet');
    const fromRows = path.join(dir, 'rows.parquet');
    const summary = await writeParquet(tableOf(runs, 37, true), fromRuns);
    await writeParquet(tableOf(runs, 37, false), fromRows);
    expect(summary.rows).toBe(runs.length * MONTHS.length);
    expect(MAX_ROW_GROUP_ROWS % MONTHS.length).not.toBe(0);
    expect((await readFile(fromRuns)).equals(await readFile(fromRows))).toBe(true);
  });

  it('writes the same bytes from runs whose texts vary along the run or are numbers, with a row group ending inside such a run', async () => {
    // The group's end (row 122,880) falls in run 17,554, one of those whose `extra` varies month by month.
    const runs = areaRuns(Math.ceil((MAX_ROW_GROUP_ROWS + 1000) / MONTHS.length)).map((run, a) => ({
      ...run,
      fields: a % 4 === 2 ? { ...run.fields, extra: a % 7 } : run.fields,
      varying: a % 3 === 1 ? { ...run.varying, extra: MONTHS.map((_, m) => (m % 3 === 0 ? null : `m${(a + m) % 5}`)) } : run.varying,
    }));
    expect(runs[Math.floor(MAX_ROW_GROUP_ROWS / MONTHS.length)]!.varying.extra).toBeDefined();
    const fromRuns = path.join(dir, 'varying-runs.parquet');
    const fromRows = path.join(dir, 'varying-rows.parquet');
    await writeParquet(tableOf(runs, 37, true), fromRuns);
    await writeParquet(tableOf(runs, 37, false), fromRows);
    expect((await readFile(fromRuns)).equals(await readFile(fromRows))).toBe(true);
    const { rows } = await readParquet(fromRuns);
    expect(rows[MAX_ROW_GROUP_ROWS]!.extra).toBe(runs[Math.floor(MAX_ROW_GROUP_ROWS / MONTHS.length)]!.varying.extra![MAX_ROW_GROUP_ROWS % MONTHS.length]);
    expect(rows.find((row) => row.extra === '2')).toBeDefined();
  });

  it('gives a run of no rows nothing: no text in the dictionary or statistics, no missing value', async () => {
    const runs = areaRuns(6);
    runs.splice(1, 0, { fields: { edition: 2020, month: null, name: 'Nowhere', extra: 'zzz' }, count: 0, varying: {} });
    runs.splice(4, 0, { fields: { edition: 2020, month: null, name: null }, count: 0, varying: {} });
    // Each in the middle of a batch of 3 runs.
    expect([runs[1]!.count, runs[4]!.count]).toEqual([0, 0]);
    const fromRuns = path.join(dir, 'empty-runs.parquet');
    const fromRows = path.join(dir, 'empty-rows.parquet');
    await writeParquet(tableOf(runs, 3, true), fromRuns);
    await writeParquet(tableOf(runs, 3, false), fromRows);
    expect((await readFile(fromRuns)).equals(await readFile(fromRows))).toBe(true);
  });

  it('names the row of a missing text in a run by its place in the part, whether the run shares it or varies it', async () => {
    const shared = areaRuns(10);
    shared[5] = { ...shared[5]!, fields: { ...shared[5]!.fields, name: null } };
    await expect(writeParquet(tableOf(shared, 4, true), path.join(dir, 'bad-shared.parquet'))).rejects.toThrow(/^part: row 36 of runs has no name, which may not be empty$/);
    const varying = areaRuns(10);
    varying[5] = { ...varying[5]!, varying: { ...varying[5]!.varying, name: MONTHS.map((_, m) => (m === 2 ? null : 'Somewhere')) } };
    await expect(writeParquet(tableOf(varying, 4, true), path.join(dir, 'bad-varying.parquet'))).rejects.toThrow(/^part: row 38 of runs has no name, which may not be empty$/);
  });

  it('a row group cut at 8 MB inside a run of one text keeps each row its own text, in this group and the next', async () => {
    // 4 KB names in runs of 7 rows: the byte budget ends a group every ~2,000 rows, mostly inside a run.
    const runs = areaRuns(1000).map((run, a) => ({ ...run, fields: { ...run.fields, name: `${String(a).padStart(4, '0')}${'n'.repeat(4000)}` } }));
    const file = path.join(dir, 'wide.parquet');
    await writeParquet(tableOf(runs, 5, true), file);
    const { rows } = await readParquet(file);
    expect(rows.map((row) => (row.name as string).slice(0, 4))).toEqual(runs.flatMap((_, a) => Array(MONTHS.length).fill(String(a).padStart(4, '0'))));
    expect(rows.map((row) => row.deaths)).toEqual(runs.flatMap((run) => Array.from(run.varying.deaths!, (d) => d).map((d) => (d === null ? null : BigInt(d as number)))));
  });

  it('a part left out after it continued the run of one text before it: the next part starts its own run where the kept rows end', async () => {
    const run = (name: string, count: number): RowRuns => new RowRuns([{ fields: { edition: 2020, month: MONTHS[0]!, name, deaths: 1 }, count, varying: {} }], count);
    const part = (name: string, batch: RowRuns, fails = false) => ({
      name,
      rows: (async function* (): AsyncGenerator<Row> {})(),
      batches: (async function* () {
        yield batch;
        if (fails) throw new DataError(`${name} is bad`);
      })(),
    });
    const file = path.join(dir, 'rollback.parquet');
    const summary = await writeParquet(
      { schema: { name: 'runs', columns: COLUMNS }, parts: (async function* () {
        yield part('a', run('X', 7));
        yield part('b', run('X', 3), true);
        yield part('c', run('Y', 2));
      })() },
      file,
      { skipBadParts: true },
    );
    expect(summary.skipped.map((skipped) => skipped.name)).toEqual(['b']);
    expect((await readParquet(file)).rows.map((row) => row.name)).toEqual([...Array(7).fill('X'), 'Y', 'Y']);
  });

  it('names the row of a bad value in a run by its place in the part', async () => {
    const runs = areaRuns(10);
    runs[3] = { ...runs[3]!, varying: { ...runs[3]!.varying, month: MONTHS.map((month, m) => (m === 4 ? null : month)) } };
    await expect(writeParquet(tableOf(runs, 4, true), path.join(dir, 'bad.parquet'))).rejects.toThrow(/^part: row 26 of runs has no month, which may not be empty$/);
  });
});
