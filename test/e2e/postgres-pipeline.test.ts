import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref, type PageLink } from '../fixtures/ons/dataset-page.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { startFileServer, type ServedFile } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { compareTableWithParquet } from '../helpers/postgres-compare.js';
import { describePostgres } from '../helpers/postgres.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/** `etl run ons … --to postgres://…`: the whole pipeline, cached and locked, into a real server. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pg-pipeline-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function servedPage(workbooks: Array<{ edition: number; name: string; body: Buffer }>): Promise<Record<string, ServedFile>> {
  const files: Record<string, ServedFile> = {};
  const links: PageLink[] = [];
  for (const { edition, name, body } of workbooks) {
    const href = onsFileHref(MONTHLY_DATASET_PATH, String(edition), name);
    files[href] = { body };
    links.push({ heading: String(edition), href });
  }
  files['/monthly'] = { body: datasetPage('Monthly figures on deaths registered by area of usual residence', links), contentType: 'text/html' };
  return files;
}

describePostgres('etl run ons --to postgres://', (database) => {
  // The file's first run is the built CLI as a process; the others go through its `main` in this process, the same code.
  let runs = 0;
  const run = (dataDir: string, pageUrl: string, table: string, flags: string[] = []) =>
    (runs++ === 0 ? runCli : runCliInProcess)(['--json', 'run', 'ons', '--url', pageUrl, '--data-dir', dataDir, '--to', database().url(), '--table', table, ...flags], { env: database().env });
  const stepStatus = (result: { stdout: string }, step: string): string => (JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { steps: Array<{ name: string; status: string }> }).steps.find((s) => s.name === step)!.status;

  it.skipIf(!hasSharedData)('the real monthly workbooks load with replace row for row; a second run sends nothing', async () => {
    const dir = sharedFile('ons-monthly');
    const names = (await readdir(dir)).filter((name) => name.endsWith('.xls')).sort();
    const workbooks = await Promise.all(names.map(async (name) => ({ edition: Number(/\d{4}/.exec(name)![0]), name, body: await readFile(path.join(dir, name)) })));
    const server = await startFileServer(await servedPage(workbooks));
    try {
      const dataDir = path.join(work, 'real');
      const first = await run(dataDir, `${server.url}/monthly`, 'ons.monthly_deaths');
      expect(first.code, first.stderr).toBe(0);
      expect(stepStatus(first, 'load')).toBe('succeeded');
      const parquet = path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
      const columns = (await readParquet(parquet)).columns.map((c) => c.name);
      const compared = await compareTableWithParquet(database(), 'ons.monthly_deaths', parquet, columns);
      expect(compared).toMatchObject({ onlyInTable: 0, onlyInFile: 0 });
      expect(compared.fileRows).toBeGreaterThan(1000);

      const second = await run(dataDir, `${server.url}/monthly`, 'ons.monthly_deaths');
      expect(second.code, second.stderr).toBe(0);
      expect(stepStatus(second, 'load')).toBe('cached');
      expect(await database().query(`SELECT count(*)::int AS n FROM ons._etl_loads WHERE table_name = 'monthly_deaths'`)).toEqual([{ n: 1 }]);
    } finally {
      await server.close();
    }
  });

  it('a refreshed workbook changes only its own edition\'s rows under merge', async () => {
    const build = async (edition: number, publishedMonths: number) => {
      const file = path.join(work, `publishedoutput${edition}-${publishedMonths}.xlsx`);
      await writeWorkbook(file, monthlySheets({ year: edition, publishedMonths }));
      return { edition, name: `publishedoutput${edition}.xlsx`, body: await readFile(file) };
    };
    const server = await startFileServer(await servedPage([await build(2019, 12), await build(2020, 9)]));
    const merge = ['--mode', 'merge', '--key', 'edition,period,geo_code,geo_name,geo_level'];
    try {
      const dataDir = path.join(work, 'merge');
      const first = await run(dataDir, `${server.url}/monthly`, 'ons.monthly_merge', merge);
      expect(first.code, first.stderr).toBe(0);
      const before = new Map((await database().query<{ id: string; xmin: string }>(`SELECT concat_ws('|', edition, period, geo_code, geo_name, geo_level) AS id, xmin::text AS xmin FROM ons.monthly_merge`)).map((r) => [r.id, r.xmin]));

      const refreshed = await build(2020, 12);
      server.set(onsFileHref(MONTHLY_DATASET_PATH, '2020', refreshed.name), { body: refreshed.body });
      const second = await run(dataDir, `${server.url}/monthly`, 'ons.monthly_merge', merge);
      expect(second.code, second.stderr).toBe(0);
      expect(stepStatus(second, 'load')).toBe('succeeded');
      const after = await database().query<{ id: string; xmin: string; edition: number; month: number }>(`SELECT concat_ws('|', edition, period, geo_code, geo_name, geo_level) AS id, xmin::text AS xmin, edition, extract(month FROM period)::int AS month FROM ons.monthly_merge`);
      const changed = after.filter((row) => before.get(row.id) !== row.xmin);
      expect(changed.length).toBeGreaterThan(0);
      expect(new Set(changed.map((row) => row.edition))).toEqual(new Set([2020]));
      expect(new Set(changed.map((row) => row.month))).toEqual(new Set([10, 11, 12]));
      const parquet = path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
      const columns = (await readParquet(parquet)).columns.map((c) => c.name).filter((c) => c !== 'source_file');
      expect(await compareTableWithParquet(database(), 'ons.monthly_merge', parquet, columns)).toMatchObject({ onlyInTable: 0, onlyInFile: 0 });
    } finally {
      await server.close();
    }
  });
});
