import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthlyAreas, monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli } from '../helpers/run-cli.js';
import { startServe, writeParquetWithDuckDb, type ServeProcess } from '../helpers/serve.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/** `etl serve` as users run it: over what `etl transform ons` wrote, behind a token, under limits. */
let work: string;
let dataDir: string;
/** `etl serve --data-dir` with no other flags: one for the file, as the tests that need no other flags only read from it. */
let plain: ServeProcess;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-serve-e2e-'));
  dataDir = path.join(work, 'data');
  const inputs = path.join(work, 'workbooks');
  await mkdir(inputs, { recursive: true });
  await writeWorkbook(path.join(inputs, 'Monthly2019Mortality.xlsx'), monthlySheets({ year: 2019 }));
  await writeWorkbook(path.join(inputs, 'Monthly2020Mortality.xls'), monthlySheets({ year: 2020, publishedMonths: 6 }));
  const transform = await runCli(['transform', 'ons', 'monthly-deaths', '--input', inputs, '--data-dir', dataDir]);
  expect(transform.code, transform.stderr).toBe(0);
  plain = await startServe(['--data-dir', dataDir]);
});

afterAll(async () => {
  await plain?.stop();
  await rm(work, { recursive: true, force: true });
});

const monthDays = (year: number, count = 12): string[] => Array.from({ length: count }, (_, m) => `${year}-${String(m + 1).padStart(2, '0')}-01`);

describe('the seed route over ons/monthly-deaths', () => {
  let serve: ServeProcess;
  beforeAll(() => {
    serve = plain;
  });

  it('answers {"year", "geo_code", "data": {date: deaths}} with the figures printed in the workbook', async () => {
    for (const year of [2019, 2020]) {
      for (const area of monthlyAreas(year).filter((a) => !a.code.includes(','))) {
        const response = await fetch(`${serve.url}/year/${year}/geo_code/${area.code}`);
        expect(response.status).toBe(200);
        // 2020's workbook prints ':' (not yet published) after June: those months are null.
        const expected = Object.fromEntries(monthDays(year).map((day, m) => [day, year === 2020 && m >= 6 ? null : area.deaths[m]]));
        expect(await response.json()).toEqual({ year, geo_code: area.code, data: expected });
      }
    }
  });

  it('K04000001 is England and Wales, not the cell that adds the non-residents', async () => {
    const body = (await (await fetch(`${serve.url}/year/2019/geo_code/K04000001`)).json()) as { data: Record<string, number> };
    const englandAndWales = monthlyAreas(2019).find((a) => a.geoLevel === 'total')!;
    expect(Object.values(body.data)).toEqual(englandAndWales.deaths);
  });

  it('an area or year with no figures is a 404; a malformed one a 400', async () => {
    expect((await fetch(`${serve.url}/year/2018/geo_code/E06000047`)).status).toBe(404);
    expect((await fetch(`${serve.url}/year/2019/geo_code/E99999999`)).status).toBe(404);
    const bad = await fetch(`${serve.url}/year/19x9/geo_code/E06000047`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'year "19x9" is not a four-digit year' });
    expect((await fetch(`${serve.url}/year/2019/geo_code/E06'%20OR%201=1`)).status).toBe(400);
  });

  it('the rows API reads the same data, with the declaration\'s descriptions', async () => {
    const rows = (await (await fetch(`${serve.url}/v1/datasets/ons/monthly-deaths/rows?geo_code=E06000047&period__gte=2019-01-01&period__lt=2020-01-01&order=period&columns=period,deaths`)).json()) as { rows: Array<{ period: string; deaths: number }> };
    expect(rows.rows).toEqual(monthDays(2019).map((period, m) => ({ period, deaths: monthlyAreas(2019)[4]!.deaths[m] })));
    const { datasets } = (await (await fetch(`${serve.url}/v1/datasets`)).json()) as { datasets: Array<{ id: string; columns: Array<{ name: string; description?: string }> }> };
    const deaths = datasets.find((d) => d.id === 'ons/monthly-deaths')!;
    expect(deaths.columns.find((c) => c.name === 'period')!.description).toBe('first day of the month');
  });
});

describe('auth and CORS', () => {
  const TOKEN = 'a-long-random-token-0123456789abcdef';

  it('with --token-env every API route needs the bearer token; /healthz does not', async () => {
    const serve = await startServe(['--data-dir', dataDir, '--token-env', 'SERVE_TOKEN_FOR_TEST'], { SERVE_TOKEN_FOR_TEST: TOKEN });
    try {
      for (const route of ['/v1/datasets', '/v1/datasets/ons/monthly-deaths/rows', '/openapi.json', '/year/2019/geo_code/E06000047']) {
        expect((await fetch(serve.url + route)).status, route).toBe(401);
        expect((await fetch(serve.url + route, { headers: { Authorization: `Bearer ${TOKEN}x` } })).status, route).toBe(401);
        expect((await fetch(serve.url + route, { headers: { Authorization: TOKEN } })).status, route).toBe(401);
        expect((await fetch(serve.url + route, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, route).toBe(200);
      }
      const refused = await fetch(`${serve.url}/v1/datasets`);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(await refused.json()).toEqual({ error: 'missing or wrong token: send Authorization: Bearer <token>' });
      expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
      expect(serve.output().stdout + serve.output().stderr).not.toContain(TOKEN);
    } finally {
      await serve.stop();
    }
  });

  it('a non-loopback --host without a token is refused before listening; --no-auth serves with a warning', async () => {
    const refused = await runCli(['serve', '--port', '0', '--host', '0.0.0.0', '--data-dir', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--host 0\.0\.0\.0 is reachable from other machines, and no token is set \(add --token-env/);
    const unset = await runCli(['serve', '--port', '0', '--token-env', 'NOT_SET_ANYWHERE_42', '--data-dir', dataDir]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/--token-env NOT_SET_ANYWHERE_42: the variable is not set/);
    const open = await startServe(['--host', '0.0.0.0', '--no-auth', '--data-dir', dataDir]);
    try {
      expect(open.output().stderr).toMatch(/--no-auth: anyone who can reach http:\/\/0\.0\.0\.0:\d+ can read every dataset/);
      expect(open.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    } finally {
      await open.stop();
    }
  });

  it('CORS is off unless --cors names an origin', async () => {
    const response = await fetch(`${plain.url}/v1/datasets`, { headers: { Origin: 'https://dash.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const cors = await startServe(['--data-dir', dataDir, '--cors', 'https://dash.example']);
    try {
      const response = await fetch(`${cors.url}/v1/datasets`, { headers: { Origin: 'https://dash.example' } });
      expect(response.headers.get('access-control-allow-origin')).toBe('https://dash.example');
      const preflight = await fetch(`${cors.url}/v1/datasets`, { method: 'OPTIONS', headers: { Origin: 'https://dash.example', 'Access-Control-Request-Headers': 'authorization' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    } finally {
      await cors.stop();
    }
  });
});

describe('start-up', () => {
  it('a port in use, or one out of range, is a usage error (exit 2) in one line', async () => {
    const taken = await runCli(['serve', '--port', new URL(plain.url).port, '--data-dir', dataDir]);
    expect(taken.code).toBe(2);
    expect(taken.stderr.trim()).toMatch(/^etl: config error: port \d+ on 127\.0\.0\.1 is in use \(choose another with --port, or --port 0 for any free one\)$/);
    // The server whose port it is carries on.
    expect((await fetch(`${plain.url}/healthz`)).status).toBe(200);
    const outOfRange = await runCli(['serve', '--port', '70000', '--data-dir', dataDir]);
    expect(outOfRange.code).toBe(2);
    expect(outOfRange.stderr).toMatch(/expected a port number, 0 to 65535/);
  });

  it('a data dir that does not exist is a usage error naming it, before anything listens', async () => {
    const missing = path.join(work, 'no-such-data');
    const run = await runCli(['serve', '--port', '0', '--data-dir', missing]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`etl: config error: data dir ${missing} does not exist (pass --data-dir with the folder etl run writes to (default ./data), or run a pipeline first)`);
    expect(run.stdout).not.toMatch(/listening/);
  });
});

describe('limits and data changing underneath', () => {
  const BIG = 3_000_000;
  let bigDir: string;
  beforeAll(async () => {
    bigDir = path.join(work, 'big');
    await mkdir(path.join(bigDir, 'processed', 'bench'), { recursive: true });
    await writeParquetWithDuckDb(path.join(bigDir, 'processed', 'bench', 'wide.parquet'), `SELECT i AS id, md5(i::VARCHAR) AS label, 'old' AS version FROM range(${BIG}) t(i)`);
  });

  it('a query past --query-timeout is stopped inside DuckDB and answered 503; the server carries on', async () => {
    const serve = await startServe(['--data-dir', bigDir, '--query-timeout', '0.001']);
    try {
      const response = await fetch(`${serve.url}/v1/datasets/bench/wide/rows?order=-label&limit=5`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: 'query ran past the time limit of 0.001 s and was stopped; narrow it with filters or a smaller limit' });
      expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    } finally {
      await serve.stop();
    }
  });

  it('past --max-concurrent running and 16 waiting, a query is refused 503 with Retry-After; a client that goes away frees its slot', async () => {
    const serve = await startServe(['--data-dir', bigDir, '--max-concurrent', '1']);
    try {
      // A whole-file CSV whose reader stops reading holds the one connection (the stream waits on the client).
      const stalled = await fetch(`${serve.url}/v1/datasets/bench/wide/rows?format=csv`);
      expect(stalled.status).toBe(200);
      const stalledReader = stalled.body!.getReader();
      await stalledReader.read();
      const waiting = Array.from({ length: 16 }, () => fetch(`${serve.url}/v1/datasets/bench/wide/rows?limit=1&columns=id&id=7`));
      // The waiters are queued in the order their requests arrive; give them time to arrive before the 17th.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const refused = await fetch(`${serve.url}/v1/datasets/bench/wide/rows?limit=1&columns=id&id=7`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toEqual({ error: 'busy: 1 queries running and 16 waiting; try again shortly' });
      await stalledReader.cancel();
      const answers = await Promise.all(waiting);
      expect(answers.map((answer) => answer.status)).toEqual(Array(16).fill(200));
      for (const answer of answers) expect(await answer.json()).toEqual({ rows: [{ id: 7 }], next: null });
    } finally {
      await serve.stop();
    }
  });

  it('a file replaced while a CSV of it streams: the stream finishes with the old rows, the next request reads the new', async () => {
    const serve = await startServe(['--data-dir', bigDir]);
    const file = path.join(bigDir, 'processed', 'bench', 'wide.parquet');
    try {
      const response = await fetch(`${serve.url}/v1/datasets/bench/wide/rows?format=csv&columns=version`);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      // As transform does: a new file written beside, renamed over the old one.
      const replacement = path.join(bigDir, 'processed', 'bench', '.etl-tmp-wide.parquet');
      await writeParquetWithDuckDb(replacement, `SELECT i AS id, md5(i::VARCHAR) AS label, 'new' AS version FROM range(10) t(i)`);
      await rename(replacement, file);
      const counts = new Map<string, number>();
      let text = Buffer.from(first.value!).toString();
      for (;;) {
        const { done, value } = await reader.read();
        if (value) text += Buffer.from(value).toString();
        const lines = text.split('\n');
        text = lines.pop()!;
        for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
        if (done) break;
      }
      expect(Object.fromEntries(counts)).toEqual({ version: 1, old: BIG });
      const after = (await (await fetch(`${serve.url}/v1/datasets/bench/wide/rows?columns=version&limit=20`)).json()) as { rows: Array<{ version: string }> };
      expect(after.rows).toEqual(Array.from({ length: 10 }, () => ({ version: 'new' })));
    } finally {
      await serve.stop();
    }
  });
});

describe.skipIf(!hasSharedData)('the seed route over a real ONS workbook (../shared/data)', () => {
  let serve: ServeProcess;
  let grid: unknown[][];
  beforeAll(async () => {
    const workbook = sharedFile('ons-monthly', 'Monthly2019Mortality.xls');
    const realDir = path.join(work, 'real');
    const transform = await runCli(['transform', 'ons', 'monthly-deaths', '--input', workbook, '--data-dir', realDir]);
    expect(transform.code, transform.stderr).toBe(0);
    // Expected figures straight from the workbook with SheetJS, not through the engine under test.
    const sheets = XLSX.read(await readFile(workbook), {});
    const sheetName = sheets.SheetNames.find((name) => /^Figures for 2019$/.test(name.trim()))!;
    grid = XLSX.utils.sheet_to_json<unknown[]>(sheets.Sheets[sheetName]!, { header: 1, raw: true, defval: null });
    serve = await startServe(['--data-dir', realDir]);
  });
  afterAll(() => serve?.stop());

  it.each(['K04000001', 'E92000001', 'W92000004', 'E12000007', 'E06000047', 'E09000033'])('%s: the twelve months printed on its row', async (code) => {
    // Per SOURCES.md: codes in column A, names in B, the twelve months from column C.
    const row = grid.find((cells) => String(cells[0] ?? '').trim() === code)!;
    const printed = row.slice(2, 14).map((v) => (typeof v === 'number' ? v : null));
    const body = (await (await fetch(`${serve.url}/year/2019/geo_code/${code}`)).json()) as { year: number; geo_code: string; data: Record<string, number | null> };
    expect(body).toEqual({ year: 2019, geo_code: code, data: Object.fromEntries(monthDays(2019).map((day, m) => [day, printed[m]])) });
  });
});
