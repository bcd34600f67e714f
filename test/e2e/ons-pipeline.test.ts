import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { monthlyAreas, monthlySheets, type MonthlyShape } from '../fixtures/ons/monthly-workbook.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * The whole pipeline as a user runs it against a real HTTP server on 127.0.0.1 that serves an ONS-style dataset page
 * and its workbooks with ETags, as www.ons.gov.uk does. The real CLI process runs the first extract and transform,
 * the first `etl run` and an HTML page given to transform; the other runs (the cached re-run too) go through the
 * CLI's `main` in this process (test/helpers/cli-in-process.ts).
 */
const EDITIONS: Array<{ shape: MonthlyShape; file: string }> = [
  { shape: { year: 2015, label: (m, y) => `${m}-${y} ` }, file: 'publishedoutput2015final.xls' },
  { shape: { year: 2019, label: (m, y) => `${m}-${y}3` }, file: 'annual2019publishedoutputrefresh.xls' },
  { shape: { year: 2021, publishedMonths: 9 }, file: 'deathsregisteredmonthlyusualareaofresidenceenglandandwales.xlsx' },
];

let work: string;
let server: FileServer;
let dataDir: string;
let pageUrl: string;
const pagePath = '/datasets/monthlyfiguresondeathsregisteredbyareaofusualresidence';

function filePath(edition: number, file: string): string {
  return onsFileHref(MONTHLY_DATASET_PATH, String(edition), file);
}

async function workbookBytes(name: string, shape: MonthlyShape): Promise<Buffer> {
  const file = path.join(work, 'build', name);
  await writeWorkbook(file, monthlySheets(shape));
  return readFile(file);
}

function fileRequests(): Array<{ path: string; status: number; bytes: number }> {
  return server.requests.filter((r) => r.path.startsWith('/file?'));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-e2e-'));
  await mkdir(path.join(work, 'build'));
  dataDir = path.join(work, 'data');
  const files: Record<string, { body: Buffer | string; contentType?: string }> = {};
  for (const { shape, file } of EDITIONS) files[filePath(shape.year, file)] = { body: await workbookBytes(file, shape) };
  files[pagePath] = {
    contentType: 'text/html',
    body: datasetPage(
      'Monthly figures on deaths registered by area of usual residence',
      EDITIONS.map(({ shape, file }) => ({ heading: String(shape.year), href: filePath(shape.year, file) })),
    ),
  };
  server = await startFileServer(files);
  pageUrl = server.url + pagePath;
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const extractArgs = (extra: string[]) => ['extract', 'ons', 'monthly-deaths', '--url', pageUrl, '--data-dir', dataDir, ...extra];
const transformArgs = (out: string, extra: string[]) => ['transform', 'ons', '--data-dir', dataDir, '--out', out, ...extra];
const extract = (...extra: string[]) => runCliInProcess(extractArgs(extra));
const transform = (out: string, ...extra: string[]) => runCliInProcess(transformArgs(out, extra));

describe('etl extract + transform against a local ONS copy', () => {
  it('downloads every edition into the raw layer with a manifest', async () => {
    const result = await runCli(extractArgs([]));
    expect(result.stderr).not.toMatch(/warn|error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/extract ons monthly-deaths: 3 files, 3 downloaded \(\d+ bytes\), 0 unchanged/);
    // Servers see the npm package that fetched from them, with the page that says what it is.
    expect(server.requests[0]!.headers['user-agent']).toMatch(/^etl-parquet\/\d+\.\d+\.\d+ \(\+https:\/\/www\.npmjs\.com\/package\/etl-parquet\)$/);
    const rawDir = path.join(dataDir, 'raw', 'ons', 'monthly-deaths');
    const manifest = JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(EDITIONS.map(({ shape, file }) => `${shape.year}/${file}`));
    for (const entry of manifest.files) {
      const onDisk = await stat(path.join(rawDir, entry.path));
      expect(onDisk.size).toBe(entry.bytes);
      expect(entry).toMatchObject({ url: expect.stringContaining('/file?uri='), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), etag: expect.any(String) });
    }
  });

  it('writes one tidy parquet file that an independent reader agrees with', async () => {
    const out = path.join(work, 'deaths.parquet');
    const result = await runCli(transformArgs(out, []));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`transform: ${3 * 7 * 12} rows from 3 files -> ${out}`);
    const { columns, rows } = await readParquet(out);
    expect(columns).toEqual([
      { name: 'edition', type: 'INT32', logical: 'INT_32' },
      { name: 'period', type: 'INT32', logical: 'DATE' },
      { name: 'geo_code', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'geo_code_extra', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'geo_name', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'area_name', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'geo_level', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'deaths', type: 'INT64', logical: 'INT_64' },
      { name: 'source_file', type: 'BYTE_ARRAY', logical: 'UTF8' },
    ]);
    for (const { shape, file } of EDITIONS) {
      const englandAndWales = rows.filter((r) => r.edition === shape.year && r.geo_name === 'ENGLAND AND WALES');
      const expected = monthlyAreas(shape.year)[1]!.deaths.map((d, m) => (m < (shape.publishedMonths ?? 12) ? BigInt(d) : null));
      expect(englandAndWales.map((r) => r.deaths)).toEqual(expected);
      expect(englandAndWales.map((r) => (r.period as Date).toISOString().slice(0, 7))).toEqual(
        Array.from({ length: 12 }, (_, m) => `${shape.year}-${String(m + 1).padStart(2, '0')}`),
      );
      expect(new Set(englandAndWales.map((r) => r.source_file))).toEqual(new Set([file]));
    }
  });

  it('a second extract transfers 0 bytes', async () => {
    const before = fileRequests().length;
    const result = await extract('--json');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ command: 'extract', editions: 3, downloaded: 0, unchanged: 3, bytes: 0 });
    const again = fileRequests().slice(before);
    expect(again.map((r) => r.status)).toEqual([304, 304, 304]);
    expect(again.reduce((sum, r) => sum + r.bytes, 0)).toBe(0);
  });

  it('a file ONS refreshed in place is fetched again, and only that file', async () => {
    const refreshed = EDITIONS[1]!;
    server.set(filePath(refreshed.shape.year, refreshed.file), { body: await workbookBytes('refresh.xls', { ...refreshed.shape, publishedMonths: 11 }) });
    const before = fileRequests().length;
    const result = await extract();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/3 files, 1 downloaded/);
    const fetched = fileRequests().slice(before).filter((r) => r.status === 200);
    expect(fetched.map((r) => r.path)).toEqual([filePath(refreshed.shape.year, refreshed.file)]);

    const out = path.join(work, 'refreshed.parquet');
    expect((await transform(out)).code).toBe(0);
    const { rows } = await readParquet(out);
    const december = rows.find((r) => r.edition === 2019 && r.geo_name === 'ENGLAND AND WALES' && (r.period as Date).getUTCMonth() === 11);
    expect(december?.deaths).toBeNull();
  });

  it('an edition republished under a new file name is counted once, from the newest file', async () => {
    const renamed = 'publishedoutputdecember2019final.xls';
    const editions = [...EDITIONS, { shape: { ...EDITIONS[1]!.shape, publishedMonths: 12 }, file: renamed }];
    server.set(filePath(2019, renamed), { body: await workbookBytes(renamed, editions[3]!.shape) });
    server.set(pagePath, {
      contentType: 'text/html',
      body: datasetPage('Monthly figures', editions.map(({ shape, file }) => ({ heading: String(shape.year), href: filePath(shape.year, file) }))),
    });
    const extracted = await extract();
    expect(extracted.stdout).toMatch(/4 files, 1 downloaded/);

    const out = path.join(work, 'republished.parquet');
    expect((await transform(out)).code).toBe(0);
    const { rows } = await readParquet(out);
    const of2019 = rows.filter((r) => r.edition === 2019);
    expect(of2019).toHaveLength(7 * 12);
    expect(new Set(of2019.map((r) => r.source_file))).toEqual(new Set([renamed]));
    expect(rows).toHaveLength(3 * 7 * 12);
  });

  it('--from/--to limit the editions extracted and transformed', async () => {
    const out = path.join(work, 'recent.parquet');
    const result = await transform(out, '--from', '2019', '--to', '2019');
    expect(result.code).toBe(0);
    const { rows } = await readParquet(out);
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([2019]));
  });

  it('a range with no edition is a usage error listing the editions there are, from the page and from the raw layer', async () => {
    const extracted = await extract('--from', '2030');
    expect(extracted.code).toBe(2);
    expect(extracted.stderr).toMatch(/^etl: config error: no edition matches --from 2030: the page at http:\/\/127\.0\.0\.1:\d+\S* links editions 2015, 2019, 2021/);
    expect((await extract()).code).toBe(0);
    const transformed = await transform(path.join(work, 'none.parquet'), '--to', '2010');
    expect(transformed.code).toBe(2);
    expect(transformed.stderr).toMatch(/^etl: config error: no edition matches --to 2010: the raw layer \(.*monthly-deaths\) holds editions 2015, 2019, 2021/);
  });

  it('--drop-unpublished, or drop_unpublished: true in a config file, leaves out the months 2021 has not published', async () => {
    const out = path.join(work, 'published.parquet');
    const unpublished = 7 * 3; // 7 area rows, October to December 2021
    const result = await transform(out, '--drop-unpublished');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`transform: ${3 * 7 * 12 - unpublished} rows from 3 files -> ${out}`);
    const { rows } = await readParquet(out);
    expect(rows.filter((r) => r.deaths === null)).toEqual([]);
    expect(rows.filter((r) => r.edition === 2021 && r.geo_name === 'ENGLAND AND WALES').map((r) => r.deaths)).toEqual(monthlyAreas(2021)[1]!.deaths.slice(0, 9).map(BigInt));

    const config = path.join(work, 'published.yaml');
    const fromConfig = path.join(work, 'published-from-config.parquet');
    await writeFile(config, `pipelines:\n  published:\n    source: ons\n    data_dir: ${dataDir}\n    options:\n      url: ${pageUrl}\n      drop_unpublished: true\n      out: ${fromConfig}\n`);
    const run = await runCliInProcess(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    expect((await readParquet(fromConfig)).rows).toEqual(rows);
  });
});

describe('etl run: extract, transform and load for a crontab line', () => {
  it('uploads the fresh parquet to a local bucket, and a re-run is cached', async () => {
    const lake = path.join(work, 'lake');
    const args = ['run', 'ons', '--url', pageUrl, '--data-dir', dataDir, '--bucket', `file://${lake}/ons/`];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^run \S+-ons-monthly-deaths-\w+: extract succeeded .*, transform succeeded .*, load succeeded \(1 uploaded, 0 failed/);
    const processed = path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
    expect(await readFile(path.join(lake, 'ons', 'monthly-deaths.parquet'))).toEqual(await readFile(processed));

    const again = await runCliInProcess(['--json', ...args]);
    expect(again.code, again.stderr).toBe(0);
    const steps = JSON.parse(again.stdout).steps as Array<{ name: string; status: string; summary?: Record<string, unknown> }>;
    expect(steps.map((step) => [step.name, step.status])).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'cached']]);
    expect(steps[0]!.summary).toMatchObject({ downloaded: 0 });
  });
});

describe('bad input: a clear error, a non-zero exit and no partial output', () => {
  const good = () => path.join(work, 'good.parquet');
  const bad = EDITIONS[2]!;

  beforeAll(async () => {
    expect((await transform(good())).code).toBe(0);
  });

  async function serveAndTransform(body: Buffer | string): Promise<Awaited<ReturnType<typeof transform>>> {
    server.set(filePath(bad.shape.year, bad.file), { body });
    expect((await extract()).code).toBe(0);
    return transform(good());
  }

  async function expectGoodFileUntouched(before: Buffer): Promise<void> {
    expect(await readFile(good())).toEqual(before);
    expect((await readdir(work)).filter((name) => name.startsWith('.etl-tmp-'))).toEqual([]);
  }

  it('an HTML error page served in place of a workbook never replaces the good copy', async () => {
    const rawFile = path.join(dataDir, 'raw', 'ons', 'monthly-deaths', String(bad.shape.year), bad.file);
    const before = await readFile(rawFile);
    server.set(filePath(bad.shape.year, bad.file), { body: '<!DOCTYPE html><html><body>Service unavailable</body></html>' });
    const result = await extract('--retries', '0');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/etl: source error: 1 of 4 downloads failed, first: http:\/\/127\.0\.0\.1:\d+\/file\?uri=.*did not serve a workbook: not an Excel workbook \(starts with "<!DOCTYPE html><"\)/);
    expect(await readFile(rawFile)).toEqual(before);
    expect((await readdir(path.dirname(rawFile))).filter((name) => name.startsWith('.etl-tmp-'))).toEqual([]);
  });

  it('an HTML page saved as .xlsx and given to transform', async () => {
    const html = path.join(work, 'build', 'page.xlsx');
    await writeFile(html, '<!DOCTYPE html><html><body>Not found</body></html>');
    const out = path.join(work, 'html.parquet');
    const result = await runCli(['transform', 'ons', '--input', html, '--out', out]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^etl: data error: page\.xlsx: not an Excel workbook \(starts with "<!DOCTYPE html><"\) \(it is an HTML page/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it.each([
    {
      name: 'a truncated workbook',
      body: async () => {
        const bytes = await workbookBytes('truncated.xlsx', bad.shape);
        return bytes.subarray(0, Math.floor(bytes.length / 2));
      },
      error: new RegExp(`${bad.file}: cannot read the workbook .*truncated or corrupt`),
    },
    {
      name: 'a workbook with the table sheet renamed beyond recognition',
      body: async () => workbookBytes('renamed.xlsx', { ...bad.shape, sheetName: 'Table 1' }),
      error: new RegExp(`${bad.file}: no sheet name matches .*"Table 1"`),
    },
  ])('$name', async ({ body, error }) => {
    const before = await readFile(good());
    const result = await serveAndTransform(await body());
    expect(result.code).toBe(4);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^etl: data error: /);
    expect(result.stderr).toMatch(error);
    await expectGoodFileUntouched(before);
  });

  it('--skip-bad reports the bad workbook and writes the rest', async () => {
    await serveAndTransform(await workbookBytes('renamed-again.xlsx', { ...bad.shape, sheetName: 'Sheet1' }));
    const out = path.join(work, 'skipped.parquet');
    const result = await transform(out, '--skip-bad');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warn: skipped ${bad.file}: ${bad.file}: no sheet name matches`);
    expect(result.stdout).toContain(`1 skipped (${bad.file})`);
    const { rows } = await readParquet(out);
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([2015, 2019]));
  });

  it('a truncated .xls fails the same way', async () => {
    const xls = path.join(work, 'build', 'cut.xls');
    await writeWorkbook(xls, monthlySheets({ year: 2016 }));
    await truncate(xls, 3000);
    const out = path.join(work, 'cut.parquet');
    const result = await runCliInProcess(['transform', 'ons', '--input', xls, '--out', out]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/cut\.xls: cannot read the .*workbook/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });
});
