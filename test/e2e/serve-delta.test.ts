import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli } from '../helpers/run-cli.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * `etl serve` over a Delta table `etl transform --format delta` wrote into the data dir, compared with the same
 * workbooks written as plain parquet and served the same way: the table's version, not its folder, is what is read.
 */
let work: string;
let plainDir: string;
let deltaDir: string;
let plain: ServeProcess;
let delta: ServeProcess;

type Row = Record<string, unknown>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-serve-delta-'));
  plainDir = path.join(work, 'plain');
  deltaDir = path.join(work, 'delta');
  for (const folder of ['both', 'changed2020']) await mkdir(path.join(work, folder));
  for (const year of [2019, 2020]) await writeWorkbook(path.join(work, 'both', `publishedoutput${year}.xls`), monthlySheets({ year }));
  await writeWorkbook(path.join(work, 'changed2020', 'publishedoutput2020.xls'), monthlySheets({ year: 2020, publishedMonths: 6 }));
  const transforms = [
    ['transform', 'ons', '--input', path.join(work, 'both'), '--data-dir', plainDir],
    // The second edition of 2020 as plain parquet too, beside the first: what version 1 of the table must equal.
    ['transform', 'ons', '--input', path.join(work, 'changed2020'), '--data-dir', plainDir, '--out', path.join(plainDir, 'processed', 'ons', 'changed2020.parquet')],
    ['transform', 'ons', '--input', path.join(work, 'both'), '--data-dir', deltaDir, '--format', 'delta', '--partition-by', 'edition'],
  ];
  for (const args of transforms) {
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(0);
  }
  // A table whose first commit has not landed yet: an empty log.
  await mkdir(path.join(deltaDir, 'processed', 'ons', 'not_yet', '_delta_log'), { recursive: true });
  [plain, delta] = await Promise.all([startServe(['--data-dir', plainDir]), startServe(['--data-dir', deltaDir])]);
}, 120_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), delta?.stop()]);
  await rm(work, { recursive: true, force: true });
});

/** Every row of a dataset, page after page through the cursor. */
async function allRows(serve: ServeProcess, id: string, query = ''): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  do {
    const response = await fetch(`${serve.url}/v1/datasets/${id}/rows?limit=100${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(response.status, await response.clone().text()).toBe(200);
    const page = (await response.json()) as { rows: Row[]; next: string | null };
    rows.push(...page.rows);
    cursor = page.next;
  } while (cursor);
  return rows;
}

const sorted = (rows: Row[]): Row[] => [...rows].map((row) => JSON.stringify(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)))).sort().map((text) => Object.fromEntries(JSON.parse(text) as Array<[string, unknown]>));

interface Listed {
  id: string;
  kind: string;
  rows: number;
  columns: Array<{ name: string; type: string }>;
  files: Array<{ path: string }>;
  delta?: { version: number; partition_columns: string[] };
}

async function listed(serve: ServeProcess, id: string): Promise<Listed> {
  const { datasets } = (await (await fetch(`${serve.url}/v1/datasets`)).json()) as { datasets: Listed[] };
  return datasets.find((d) => d.id === id)!;
}

describe('etl serve over a Delta table in the data dir', () => {
  it('lists the table with its version, partition column and the plain dataset\'s columns; serves the same rows', async () => {
    const table = await listed(delta, 'ons/monthly-deaths');
    const reference = await listed(plain, 'ons/monthly-deaths');
    expect(table).toMatchObject({ kind: 'delta', delta: { version: 0, partition_columns: ['edition'] }, rows: reference.rows });
    expect(new Set(table.columns.map((c) => `${c.name} ${c.type}`))).toEqual(new Set(reference.columns.map((c) => `${c.name} ${c.type}`)));
    const { datasets } = (await (await fetch(`${delta.url}/v1/datasets`)).json()) as { datasets: Listed[] };
    expect(datasets.map((d) => d.id)).toEqual(['ons/monthly-deaths']); // the empty log is not a table yet
    expect(table.files.map((f) => f.path.split(path.sep).slice(-2, -1)[0])).toEqual(['edition=2019', 'edition=2020']);
    const rows = await allRows(delta, 'ons/monthly-deaths');
    expect(rows.length).toBe(reference.rows);
    expect(sorted(rows)).toEqual(sorted(await allRows(plain, 'ons/monthly-deaths')));
  });

  it('filters on the partition column and on data columns, csv and the seed route answer as for parquet', async () => {
    const query = '&edition=2019&geo_code=E06000047&order=period&columns=period,deaths,edition';
    expect(await allRows(delta, 'ons/monthly-deaths', query)).toEqual(await allRows(plain, 'ons/monthly-deaths', query));
    const csv = async (serve: ServeProcess): Promise<string> => (await fetch(`${serve.url}/v1/datasets/ons/monthly-deaths/rows?format=csv&order=period,geo_code,edition`)).text();
    expect(await csv(delta)).toBe(await csv(plain));
    const seed = async (serve: ServeProcess): Promise<unknown> => (await fetch(`${serve.url}/year/2019/geo_code/E06000047`)).json();
    expect(await seed(delta)).toHaveProperty('data');
    expect(await seed(delta)).toEqual(await seed(plain));
  });

  it('after a commit replacing the 2020 partition, the next query reads the new version: 2019 as it was, 2020 new, the removed file not at all', async () => {
    const commit = await runCli(['transform', 'ons', '--input', path.join(work, 'changed2020'), '--data-dir', deltaDir, '--format', 'delta', '--partition-by', 'edition']);
    expect(commit.code, commit.stderr).toBe(0);
    const table = await listed(delta, 'ons/monthly-deaths');
    expect(table.delta?.version).toBe(1);
    const expected = [...(await allRows(plain, 'ons/monthly-deaths', '&edition__ne=2020')), ...(await allRows(plain, 'ons/changed2020'))];
    expect(table.rows).toBe(expected.length);
    expect(sorted(await allRows(delta, 'ons/monthly-deaths'))).toEqual(sorted(expected));
  });
});
