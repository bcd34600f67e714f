import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PIVOTED_METRICS, VIEWS, metricsFor, pivotedAnswer, pivotedRows, plainAnswer } from '../fixtures/supermetrics/answers.js';
import { expectFaultsHandled } from '../helpers/api-faults.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/**
 * Supermetrics end to end: the CLI against a Supermetrics look-alike on 127.0.0.1. The built CLI runs as a process
 * for the first extract (the key from a .env in the working directory) and a missing key; the other runs go through
 * the CLI's `main` in this process (test/helpers/cli-in-process.ts), those about the key never being printed too
 * (each in-process session starts with no secret registered, as a process does).
 */
const API_KEY = 'sm-key-3f9c2a7b1d';
const ROWS_PER_PAGE = 10;
let generation = 0;
/** How the look-alike writes meta.paginate.next: a whole URL, relative forms, or a paginator gone wrong. */
let nextStyle: 'absolute' | 'path' | 'query' | 'endless' | 'loop' = 'absolute';
const printed: string[] = [];

const bed = useApiTestbed('supermetrics', (request) => {
  if (!request.path.startsWith('/enterprise/v2/query/data/json')) return json(404, { error: 'not found' });
  const query = JSON.parse(request.url.searchParams.get('json')!);
  if (query.api_key !== API_KEY) return json(401, { error: { message: 'invalid api key' } });
  if (query.ds_id === 'GA-plain') return json(200, plainAnswer(query.start_date, query.end_date));
  const page = Number(request.url.searchParams.get('page') ?? 1);
  const rows = pivotedRows(query.start_date, query.end_date, generation);
  const search = (n: number) => `?json=${encodeURIComponent(JSON.stringify(query))}&page=${n}`;
  const more = page * ROWS_PER_PAGE < rows.length;
  const next = {
    absolute: more ? `${bed.server.url}${request.url.pathname}${search(page + 1)}` : undefined,
    path: more ? `${request.url.pathname}${search(page + 1)}` : undefined,
    query: more ? search(page + 1) : undefined,
    endless: `${bed.server.url}${request.url.pathname}${search(page + 1)}`,
    // Page 2 names page 1 again (the first request has no page parameter).
    loop: `${bed.server.url}${request.url.pathname}${page === 1 ? search(2) : search(1).replace(/&page=1$/, '')}`,
  }[nextStyle];
  return json(200, pivotedAnswer(rows.slice((page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE), next));
});
beforeAll(async () => {
  // The key comes from a .env file in the working directory, as on a VM.
  await writeFile(path.join(bed.work, '.env'), `SUPERMETRICS_API_KEY=${API_KEY}\n`);
  await writeFile(path.join(bed.work, 'query.json'), JSON.stringify({ ds_id: 'GA', fields: ['Date', 'profile', 'segment', 'Sessions'], max_rows: 1000, settings: { no_headers: false } }));
  await writeFile(path.join(bed.work, 'plain.json'), JSON.stringify({ ds_id: 'GA-plain', fields: ['date', 'sessions'] }));
});
beforeEach(() => {
  generation = 0;
  nextStyle = 'absolute';
});

async function cli(args: string[], how: 'in-process' | 'process' = 'in-process'): Promise<CliResult> {
  const result = how === 'process' ? await runCli(args, { cwd: bed.work }) : await runCliInProcess(args, { cwd: bed.work });
  printed.push(result.stdout, result.stderr);
  return result;
}
const extractArgs = (extra: string[]) => ['extract', 'supermetrics', 'query', '--query', 'query.json', '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--rate-limit', '0', '--concurrency', '1', ...extra];
const extract = (...extra: string[]) => cli(extractArgs(extra));
const extractProcess = (...extra: string[]) => cli(extractArgs(extra), 'process');
const transform = (...extra: string[]) => cli(['transform', 'supermetrics', 'query', '--data-dir', bed.dataDir, ...extra]);
const requested = () => bed.server.requests.map((r) => ({ ...JSON.parse(r.url.searchParams.get('json')!), page: r.url.searchParams.get('page') }));

describe('etl extract/transform supermetrics', () => {
  it('splits the period into chunks, follows paginate.next, and writes the pivoted columns typed', async () => {
    const result = await extractProcess('--from', '2024-01-01', '--to', '2024-01-31', '--chunk', '15d');
    expect(result.code).toBe(0);
    // 15 days x 2 views = 30 rows: 3 pages of 10; the last chunk is one day.
    expect(requested().map((q) => [q.start_date, q.end_date, q.page])).toEqual([
      ['2024-01-01', '2024-01-15', null], ['2024-01-01', '2024-01-15', '2'], ['2024-01-01', '2024-01-15', '3'],
      ['2024-01-16', '2024-01-30', null], ['2024-01-16', '2024-01-30', '2'], ['2024-01-16', '2024-01-30', '3'],
      ['2024-01-31', '2024-01-31', null],
    ]);
    expect(requested()[0]).toMatchObject({ ds_id: 'GA', max_rows: 1000, api_key: API_KEY });

    const rawDir = path.join(bed.dataDir, 'raw', 'supermetrics', 'query');
    const manifest = JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(7);
    const recorded = new URL(manifest.files[0].request.url);
    expect(JSON.parse(recorded.searchParams.get('json')!)).toEqual({ ds_id: 'GA', fields: ['Date', 'profile', 'segment', 'Sessions'], max_rows: 1000, settings: { no_headers: false }, start_date: '2024-01-01', end_date: '2024-01-15' });

    const out = path.join(bed.dataDir, 'marketing.parquet');
    const transformed = await transform('--out', out);
    expect(transformed.code).toBe(0);
    const { columns, rows } = await readParquet(out);
    expect(columns).toEqual([
      { name: 'date', type: 'INT32', logical: 'DATE' },
      { name: 'view', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'm_site_total_bounces_landing', type: 'DOUBLE', logical: undefined },
      { name: 'm_site_total_click_to_edsp', type: 'DOUBLE', logical: undefined },
      { name: 'extracted_at', type: 'INT64', logical: 'TIMESTAMP' },
      { name: 'source_file', type: 'BYTE_ARRAY', logical: 'UTF8' },
    ]);
    expect(rows).toHaveLength(31 * VIEWS.length);
    for (const [day, view] of [['2024-01-01', 'www'], ['2024-01-20', 'm-site'], ['2024-01-31', 'www']] as const) {
      const row = rows.find((r) => (r.date as Date).toISOString().slice(0, 10) === day && r.view === view)!;
      const [bounces, clicks] = metricsFor(day, view, 0);
      expect(row).toMatchObject({ m_site_total_bounces_landing: bounces, m_site_total_click_to_edsp: clicks });
      expect(row.source_file).toMatch(/^raw\/supermetrics\/query\/2024-01-\d\d_2024-01-\d\d\/page-000\d\.json$/);
    }
    expect(PIVOTED_METRICS).toHaveLength(2);
  });

  it('resumes: closed chunks are not fetched again; --refresh and a still-open chunk are; rows never duplicate', async () => {
    expect((await extract('--from', '2024-01-01', '--to', '2024-01-20', '--chunk', '10d')).code).toBe(0);
    bed.server.requests.length = 0;
    const again = await extract('--from', '2024-01-01', '--to', '2024-01-20', '--chunk', '10d');
    expect(again.code).toBe(0);
    expect(bed.server.requests).toHaveLength(0);
    expect(again.stdout).toMatch(/0 downloaded \(0 bytes\), 4 unchanged/);

    // Re-fetched with other chunk edges: overlapping periods, newer values; the newest extraction wins.
    generation = 1;
    expect((await extract('--from', '2024-01-05', '--to', '2024-01-14', '--chunk', '5d', '--refresh')).code).toBe(0);
    const out = path.join(bed.dataDir, 'q.parquet');
    expect((await transform('--out', out)).code).toBe(0);
    const { rows } = await readParquet(out);
    expect(rows).toHaveLength(20 * VIEWS.length);
    const value = (day: string) => rows.find((r) => (r.date as Date).toISOString().slice(0, 10) === day && r.view === 'www')!.m_site_total_bounces_landing;
    expect(value('2024-01-04')).toBe(metricsFor('2024-01-04', 'www', 0)[0]);
    expect(value('2024-01-05')).toBe(metricsFor('2024-01-05', 'www', 1)[0]);
    expect(value('2024-01-15')).toBe(metricsFor('2024-01-15', 'www', 0)[0]);

    // A chunk that reaches today is still open: fetched on every run.
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect((await extract('--from', yesterday, '--to', today, '--chunk', '1d')).code).toBe(0);
    bed.server.requests.length = 0;
    expect((await extract('--from', yesterday, '--to', today, '--chunk', '1d')).code).toBe(0);
    expect(requested().map((q) => q.start_date)).toEqual([today]);
  });

  it('reads the plain shape (DIMENSION/METRIC, no header row)', async () => {
    expect((await extract('--from', '2023-01-01', '--to', '2023-01-03', '--query', path.join(bed.work, 'plain.json'))).code).toBe(0);
    const out = path.join(bed.dataDir, 'plain.parquet');
    expect((await transform('--out', out)).code).toBe(0);
    const { columns, rows } = await readParquet(out);
    expect(columns.map((c) => `${c.name} ${c.logical ?? c.type}`)).toEqual(['date DATE', 'sessions DOUBLE', 'extracted_at TIMESTAMP', 'source_file UTF8']);
    expect(rows.map((r) => [(r.date as Date).toISOString().slice(0, 10), r.sessions])).toEqual([['2023-01-01', 101], ['2023-01-02', 102], ['2023-01-03', 103]]);
  });

  it('rides out or reports every server fault, and a missing key is a config error naming the variable', async () => {
    const good = JSON.stringify(pivotedAnswer(pivotedRows('2024-02-01', '2024-02-02', 0)));
    await expectFaultsHandled(bed.server, '/enterprise/', good, () => extract('--from', '2024-02-01', '--to', '2024-02-02', '--refresh'), /check SUPERMETRICS_API_KEY/);
    // Elsewhere, with no .env and the variable unset.
    const elsewhere = path.join(bed.dataDir, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    const noKey = await runCli(['extract', 'supermetrics', '--query', path.join(bed.work, 'query.json'), '--from', '2024-01-01', '--to', '2024-01-02', '--base-url', bed.server.url, '--data-dir', bed.dataDir], { cwd: elsewhere, env: { SUPERMETRICS_API_KEY: '' } });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/SUPERMETRICS_API_KEY is not set/);
    const missing = await extract('--from', '2024-01-01');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/option '--to <date>' is required/);
    const help = await cli(['extract', 'supermetrics', '--help']);
    for (const text of ['--query <file.json>', '--from <date>', '--to <date>', '--chunk <days>', '--refresh', '--base-url', 'SUPERMETRICS_API_KEY', 'SUPERMETRICS_BASE_URL', 'never a flag']) expect(help.stdout).toContain(text);
  });

  it('a period of more chunks than --max-chunks is refused at once (exit 2), before any request or file', async () => {
    const refused = [['--from', '0001-01-01', '--to', '2024-03-31'], ['--from', '0001-01-01', '--to', '9999-12-31', '--chunk', '1d'], ['--from', '2024-01-01', '--to', '2024-01-31', '--chunk', '1d', '--max-chunks', '30']];
    // Started together: each is refused before any request, so they cannot get in each other's way.
    const results = await Promise.all(refused.map((args) => extract(...args)));
    for (const [index, args] of refused.entries()) {
      const result = results[index]!;
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^etl: config error: option '--from <date>' argument "[\d-]+" is invalid: [\d-]+\.\.[\d-]+ in chunks of \d+ days? is \d+ chunks \(a request or more each\), more than --max-chunks \d+: narrow --from\/--to, use a larger --chunk, or raise --max-chunks/);
    }
    // Only this test's periods: a test before it that timed out on a loaded machine may still be sending its own.
    expect(requested().filter((q) => q.start_date === '0001-01-01' || q.start_date.startsWith('2024-01-'))).toEqual([]);
    expect((await extract('--from', '2024-01-01', '--to', '2024-01-31', '--chunk', '1d', '--max-chunks', '31')).code).toBe(0);
    const help = await cli(['extract', 'supermetrics', '--help']);
    expect(help.stdout).toContain('--max-chunks <n>');
  });

  it('a relative next URL (/path?page=2, ?page=2) is read against the page that named it', async () => {
    for (const style of ['path', 'query'] as const) {
      nextStyle = style;
      bed.server.requests.length = 0;
      const result = await extract('--from', '2024-01-01', '--to', '2024-01-15', '--chunk', '15d', '--refresh');
      expect(result.code, result.stderr).toBe(0);
      expect(bed.server.requests.map((r) => r.url.pathname)).toEqual(Array(3).fill('/enterprise/v2/query/data/json'));
      expect(requested().map((q) => [q.start_date, q.page])).toEqual([['2024-01-01', null], ['2024-01-01', '2'], ['2024-01-01', '3']]);
    }
    const out = path.join(bed.dataDir, 'relative.parquet');
    expect((await transform('--out', out)).code).toBe(0);
    expect((await readParquet(out)).rows).toHaveLength(15 * VIEWS.length);
  });

  it('a paginator that never ends stops at --max-pages (default 100) a chunk; a next page seen before stops at once', async () => {
    nextStyle = 'endless';
    let started = Date.now();
    const endless = await extract('--from', '2024-01-01', '--to', '2024-01-02');
    expect(endless.code).toBe(3);
    expect(endless.stderr).toMatch(/^etl: source error: pagination did not end: more than 100 pages \(http:\/\/127\.0\.0\.1:\d+\/enterprise\/v2\/query\/data\/json\?json=.*&page=101\) \(raise --max-pages if the API really has that many, or ask for less at a time\)$/m);
    expect(bed.server.requests).toHaveLength(100);
    expect(Date.now() - started).toBeLessThan(30_000);
    // Nothing of the unfinished chunk is in the manifest.
    const rawDir = path.join(bed.dataDir, 'raw', 'supermetrics', 'query');
    expect(await readFile(path.join(rawDir, 'manifest.json'), 'utf8').catch(() => 'none')).toBe('none');

    bed.server.requests.length = 0;
    const capped = await extract('--from', '2024-01-01', '--to', '2024-01-02', '--max-pages', '5');
    expect(capped.code).toBe(3);
    expect(capped.stderr).toMatch(/more than 5 pages/);
    expect(bed.server.requests).toHaveLength(5);

    // The same cap from a config file.
    bed.server.requests.length = 0;
    const config = path.join(bed.work, `endless-${Date.now()}.yaml`);
    await writeFile(config, `data_dir: ${bed.dataDir}\npipelines:\n  endless:\n    source: supermetrics\n    options:\n      query: query.json\n      from: 2024-01-01\n      to: 2024-01-02\n      base_url: ${bed.server.url}\n      max_pages: 4\n`);
    const configured = await cli(['run', '--config', config]);
    expect(configured.code, configured.stderr).toBe(3);
    expect(configured.stderr).toMatch(/more than 4 pages/);
    expect(bed.server.requests).toHaveLength(4);

    nextStyle = 'loop';
    bed.server.requests.length = 0;
    started = Date.now();
    const loop = await extractProcess('--from', '2024-01-01', '--to', '2024-01-02');
    expect(loop.code).toBe(3);
    expect(loop.stderr).toMatch(/pagination did not end: the next page repeats an earlier one/);
    expect(bed.server.requests).toHaveLength(2);
    expect(loop.stderr).not.toContain(API_KEY);

    const bad = await extract('--from', '2024-01-01', '--to', '2024-01-02', '--max-pages', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-pages <n>.*expected at least 1/);
    const help = await cli(['extract', 'supermetrics', '--help']);
    expect(help.stdout).toMatch(/--max-pages <n> +follow at most this many next pages for one\s+chunk; a next page seen before ends at once\s+\(default: 100\)/);
  });

  it('never writes or prints the API key', async () => {
    expect((await cli(['--json', '--debug', 'extract', 'supermetrics', '--query', 'query.json', '--from', '2024-03-01', '--to', '2024-03-20', '--chunk', '7d', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(0);
    bed.server.queue('/enterprise/', { status: 401, body: `{"error":"bad key ${API_KEY}"}` });
    expect((await cli(['--debug', 'extract', 'supermetrics', '--query', 'query.json', '--from', '2024-04-01', '--to', '2024-04-02', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(3);
    bed.server.queue('/enterprise/', { status: 200, body: 'not json' });
    expect((await cli(['--json', 'extract', 'supermetrics', '--query', 'query.json', '--from', '2024-04-01', '--to', '2024-04-02', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(3);
    expect((await cli(['transform', 'supermetrics', 'query', '--data-dir', bed.dataDir, '--out', path.join(bed.dataDir, 'secret-check.parquet')])).code).toBe(0);
    expect(bed.server.requests.length).toBeGreaterThan(3);
    const files = await allFiles(bed.work);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      if (path.basename(file) === '.env') continue;
      expect(file).not.toContain(API_KEY);
      expect((await readFile(file)).includes(API_KEY), file).toBe(false);
    }
    for (const text of printed) expect(text).not.toContain(API_KEY);
  });
});

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
