import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, DataError, SourceError } from '../../src/core/errors.js';
import { chunkCount, chunksOf, supermetrics } from '../../src/sources/supermetrics.js';
import { pivotedAnswer, pivotedRows } from '../fixtures/supermetrics/answers.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { capturedIO, type CapturedIO } from '../helpers/source-io.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';
import { tableRows } from '../helpers/table-rows.js';

/** supermetrics' extract in-process (Stryker sees it) against the look-alike of test/e2e/supermetrics.test.ts; "today" is 2024-03-01. */
const API_KEY = 'sm-unit-key-61c0a9';
const ROWS_PER_PAGE = 10;

const bed = useApiTestbed('supermetrics-unit', (request) => {
  if (!/^(\/mirror)?\/enterprise\/v2\/query\/data\/json/.test(request.path)) return json(404, { error: 'not found' });
  const query = JSON.parse(request.url.searchParams.get('json')!);
  if (query.api_key !== API_KEY) return json(401, { error: { message: 'invalid api key' } });
  const page = Number(request.url.searchParams.get('page') ?? 1);
  const rows = pivotedRows(query.start_date, query.end_date, 0);
  const next = page * ROWS_PER_PAGE < rows.length ? `${bed.server.url}${request.url.pathname}?json=${encodeURIComponent(JSON.stringify(query))}&page=${page + 1}` : undefined;
  return json(200, pivotedAnswer(rows.slice((page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE), next));
});
let io: CapturedIO;
let queryFile: string;
beforeAll(async () => {
  queryFile = path.join(bed.work, 'query.json');
  await writeFile(queryFile, JSON.stringify({ ds_id: 'GA', fields: ['Date', 'profile', 'segment', 'Sessions'], max_rows: 1000 }));
});
beforeEach(() => {
  vi.stubEnv('SUPERMETRICS_API_KEY', API_KEY);
  io = capturedIO({ retries: 0 });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await io.close();
});

type Options = { from: string; to: string; chunk?: string; refresh?: boolean; query?: string };
const extract = (options: Options, shard?: { index: number; count: number }) =>
  supermetrics.extract({ dataset: 'query', dataDir: bed.dataDir, baseUrl: bed.server.url, concurrency: 1, rateLimit: 0, options: { query: queryFile, chunk: '30d', maxChunks: 2000, maxPages: 100, refresh: false, ...options }, shard }, io);
const rawDir = () => path.join(bed.dataDir, 'raw', 'supermetrics', 'query');
const asked = () => bed.server.requests.map((r) => ({ ...JSON.parse(r.url.searchParams.get('json')!), page: r.url.searchParams.get('page') }));

describe('chunksOf', () => {
  it('covers from..to with chunks of at most n days, the last one cut at to', () => {
    expect(chunksOf('2024-01-01', '2024-01-31', 15)).toEqual([
      { start: '2024-01-01', end: '2024-01-15' },
      { start: '2024-01-16', end: '2024-01-30' },
      { start: '2024-01-31', end: '2024-01-31' },
    ]);
    expect(chunksOf('2024-02-28', '2024-03-01', 1).map((c) => c.start)).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(chunksOf('2024-01-01', '2024-01-10', 10)).toEqual([{ start: '2024-01-01', end: '2024-01-10' }]);
  });
});

describe('--max-chunks', () => {
  const parse = (options: Record<string, unknown>) => supermetrics.extractOptions.schema(z).safeParse({ query: 'q.json', ...options });
  const issues = (options: Record<string, unknown>) => parse(options).error?.issues.map((issue) => [issue.path.join('.'), issue.message]);

  it('chunkCount counts what chunksOf lists, without listing', () => {
    for (const [from, to, days] of [['2024-01-01', '2024-01-31', 15], ['2024-02-28', '2024-03-01', 1], ['2024-01-01', '2024-01-10', 10], ['2023-03-20', '2024-11-02', 7], ['2024-01-01', '2024-01-01', 30]] as const) {
      expect(chunkCount(from, to, days)).toBe(chunksOf(from, to, days).length);
    }
  });

  it('a period of more chunks than --max-chunks (default 2000) is refused when the options are read, before any request', () => {
    expect(issues({ from: '0001-01-01', to: '2024-03-31' })).toEqual([
      ['from', '0001-01-01..2024-03-31 in chunks of 30 days is 24633 chunks (a request or more each), more than --max-chunks 2000: narrow --from/--to, use a larger --chunk, or raise --max-chunks'],
    ]);
    expect(issues({ from: '0001-01-01', to: '9999-12-31', chunk: '1d' })?.[0]?.[1]).toMatch(/^0001-01-01\.\.9999-12-31 in chunks of 1 day is 3652059 chunks/);
    expect(parse({ from: '2019-01-01', to: '2024-06-22', chunk: '1d' }).success).toBe(true); // 2000 chunks
    expect(parse({ from: '2019-01-01', to: '2024-06-23', chunk: '1d' }).success).toBe(false);
    expect(parse({ from: '2019-01-01', to: '2024-06-23', chunk: '1d', maxChunks: '2001' }).success).toBe(true);
    expect(parse({ from: '2019-01-01', to: '2024-06-23', chunk: '1d', maxChunks: 2001 }).success).toBe(true);
    for (const wrong of ['0', '-5', '0x10', '1.5', 'lots', '']) expect(parse({ from: '2024-01-01', to: '2024-01-02', maxChunks: wrong }).success, wrong).toBe(false);
  });
});

describe('supermetrics.extract', () => {
  it('fetches each chunk with its dates and the key, follows paginate.next, and records pages per chunk without the key', async () => {
    const report = await extract({ from: '2024-01-01', to: '2024-01-09', chunk: '6d' });
    expect(asked().map((q) => [q.start_date, q.end_date, q.page, q.api_key, q.ds_id])).toEqual([
      ['2024-01-01', '2024-01-06', null, API_KEY, 'GA'],
      ['2024-01-01', '2024-01-06', '2', API_KEY, 'GA'],
      ['2024-01-07', '2024-01-09', null, API_KEY, 'GA'],
    ]);
    expect(report.files.map((f) => [f.file, f.status])).toEqual([
      ['2024-01-01_2024-01-06/page-0001.json', 'downloaded'],
      ['2024-01-01_2024-01-06/page-0002.json', 'downloaded'],
      ['2024-01-07_2024-01-09/page-0001.json', 'downloaded'],
    ]);
    const manifest = await readFile(path.join(rawDir(), 'manifest.json'), 'utf8');
    expect(JSON.parse(manifest).files.map((f: { key: string }) => f.key)).toEqual(['2024-01-01_2024-01-06/1', '2024-01-01_2024-01-06/2', '2024-01-07_2024-01-09/1']);
    expect(manifest).not.toContain(API_KEY);
    expect(io.lines).toContain('supermetrics 2024-01-01..2024-01-06: 2 pages');
    expect(io.lines).toContain('supermetrics 2024-01-07..2024-01-09: 1 page');
    expect(io.lines.filter((line) => line.includes('closed chunks'))).toEqual([]);

    bed.server.requests.length = 0;
    await extract({ from: '2024-01-10', to: '2024-01-29', chunk: '10d' });
    expect(asked().filter((q) => q.page === null).map((q) => [q.start_date, q.end_date])).toEqual([['2024-01-10', '2024-01-19'], ['2024-01-20', '2024-01-29']]);
  });

  it('resumes: closed chunks whose files are intact are kept; a damaged one, the open chunk and --refresh are fetched again', async () => {
    await extract({ from: '2024-02-20', to: '2024-03-01', chunk: '4d' });
    bed.server.requests.length = 0;
    const again = await extract({ from: '2024-02-20', to: '2024-03-01', chunk: '4d' });
    expect(asked().map((q) => q.start_date)).toEqual(['2024-02-28']);
    expect(again.files.map((f) => [f.file.split('/')[0], f.status, f.bytes === 0])).toEqual([
      ['2024-02-28_2024-03-01', 'downloaded', false],
      ['2024-02-20_2024-02-23', 'unchanged', true],
      ['2024-02-24_2024-02-27', 'unchanged', true],
    ]);
    expect(io.lines).toContain('supermetrics: 2 closed chunks already extracted, not fetched again (--refresh fetches them)');

    const damaged = path.join(rawDir(), '2024-02-24_2024-02-27', 'page-0001.json');
    await writeFile(damaged, (await readFile(damaged, 'utf8')).replace('www', 'WWW'));
    bed.server.requests.length = 0;
    await extract({ from: '2024-02-20', to: '2024-03-01', chunk: '4d' });
    expect(asked().map((q) => [q.start_date, q.page])).toEqual([['2024-02-24', null], ['2024-02-28', null]]);

    bed.server.requests.length = 0;
    await extract({ from: '2024-02-20', to: '2024-02-27', chunk: '4d', refresh: true });
    expect(asked().map((q) => q.start_date)).toEqual(['2024-02-20', '2024-02-24']);
  });

  it('--shard i/n: every chunk goes to exactly one shard, and every shard gets a share, whatever the chunk size', async () => {
    for (const [chunk, count] of [['2d', 2], ['2d', 3], ['1d', 2]] as const) {
      const all = chunksOf('2024-01-01', '2024-01-20', Number(chunk[0])).map((c) => c.start);
      const starts: string[] = [];
      const shares: number[] = [];
      for (let index = 0; index < count; index++) {
        bed.server.requests.length = 0;
        await extract({ from: '2024-01-01', to: '2024-01-20', chunk, refresh: true }, { index, count });
        const mine = [...new Set(asked().map((q) => q.start_date as string))];
        starts.push(...mine);
        shares.push(mine.length);
      }
      expect(starts.sort()).toEqual(all);
      expect(starts.length).toBe(all.length);
      expect(shares.every((share) => share > 0)).toBe(true);
    }
  });

  it('a query file that is missing, not JSON or without ds_id is a usage error; so is a missing key; a page in another shape is a source error', async () => {
    await expect(extract({ from: '2024-01-01', to: '2024-01-01', query: path.join(bed.work, 'absent.json') })).rejects.toThrow(/^--query .*absent\.json: ENOENT/);
    const notJson = path.join(bed.work, 'broken.json');
    await writeFile(notJson, '{ds_id');
    await expect(extract({ from: '2024-01-01', to: '2024-01-01', query: notJson })).rejects.toSatisfy((error: ConfigError) => error instanceof ConfigError && /ds_id, fields, max_rows/.test(error.hint ?? ''));
    for (const body of ['[]', 'null', '{"fields":[]}', '{"ds_id":7}']) {
      await writeFile(notJson, body);
      await expect(extract({ from: '2024-01-01', to: '2024-01-01', query: notJson })).rejects.toThrow(`--query ${notJson}: expected a JSON object with at least ds_id and fields`);
    }
    vi.stubEnv('SUPERMETRICS_API_KEY', '');
    await expect(extract({ from: '2024-01-01', to: '2024-01-01' })).rejects.toThrow('SUPERMETRICS_API_KEY is not set: it holds the Supermetrics API key');
    expect(bed.server.requests).toEqual([]);

    vi.stubEnv('SUPERMETRICS_API_KEY', API_KEY);
    bed.server.queue('/enterprise/', json(200, { meta: {}, rows: [] }));
    const otherShape = extract({ from: '2024-01-01', to: '2024-01-01' });
    await expect(otherShape).rejects.toBeInstanceOf(SourceError);
    await expect(otherShape).rejects.toThrow(/^GET \S+: page 1: expected meta\.query\.fields and data in a Supermetrics answer$/);
  });
});

describe('supermetrics pagination and re-fetches', () => {
  it('stops at an empty or missing next; a re-fetched chunk with fewer pages leaves none of its old pages behind', async () => {
    const page = (next: unknown) => json(200, { ...(pivotedAnswer(pivotedRows('2024-01-01', '2024-01-01', 0)) as object), meta: { ...(pivotedAnswer([]) as { meta: object }).meta, paginate: { next } } });
    bed.server.queue('/enterprise/', page(`${bed.server.url}/enterprise/v2/query/data/json?page=2`), page(''));
    await extract({ from: '2024-01-01', to: '2024-01-01' });
    expect(bed.server.requests).toHaveLength(2);
    const chunk = path.join(rawDir(), '2024-01-01_2024-01-01');
    expect((await readdir(chunk)).sort()).toEqual(['page-0001.json', 'page-0002.json']);

    bed.server.queue('/enterprise/', page(null));
    await extract({ from: '2024-01-01', to: '2024-01-01', refresh: true });
    expect(bed.server.requests).toHaveLength(3);
    expect(await readdir(chunk)).toEqual(['page-0001.json']);
    const manifest = JSON.parse(await readFile(path.join(rawDir(), 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { key: string }) => f.key)).toEqual(['2024-01-01_2024-01-01/1']);
  });

  it('follows a --base-url with a path, with or without its trailing slash', async () => {
    for (const baseUrl of [`${bed.server.url}/mirror`, `${bed.server.url}/mirror/`]) {
      await supermetrics.extract({ dataset: 'query', dataDir: bed.dataDir, baseUrl, concurrency: 1, rateLimit: 0, options: { query: queryFile, from: '2024-01-01', to: '2024-01-01', chunk: '1d', maxChunks: 2000, maxPages: 100, refresh: true } }, io);
    }
    expect(bed.server.requests.map((r) => r.url.pathname)).toEqual(['/mirror/enterprise/v2/query/data/json', '/mirror/enterprise/v2/query/data/json']);
  });

  it('--from must not be after --to', () => {
    const parse = (from: string, to: string) => supermetrics.extractOptions.schema(z).safeParse({ query: 'q.json', from, to });
    expect(parse('2024-01-02', '2024-01-02').success).toBe(true);
    const reversed = parse('2024-01-03', '2024-01-02');
    expect(reversed.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([['to', 'expected --from on or before --to']]);
  });
});

describe('supermetrics.transform', () => {
  const transform = (shard?: { index: number; count: number }) => supermetrics.transform({ dataset: 'query', dataDir: bed.dataDir, options: {}, shard }, io);

  it('reads the columns the first page declares; --shard keeps its chunks; nothing extracted or a damaged page is said clearly', async () => {
    const missing = transform();
    await expect(missing).rejects.toSatisfy((error: ConfigError) => error instanceof ConfigError && error.hint === 'run `etl extract supermetrics query --query … --from … --to …` first (same --data-dir)');
    await expect(missing).rejects.toThrow(`nothing extracted for supermetrics query in ${rawDir()}`);

    await extract({ from: '2024-01-01', to: '2024-01-04', chunk: '1d' });
    const rows = await tableRows(transform());
    expect(rows).toHaveLength(4 * 2);
    expect(Object.keys(rows[0]!.row)).toEqual(['date', 'view', 'm_site_total_bounces_landing', 'm_site_total_click_to_edsp', 'extracted_at', 'source_file']);
    // Shard i's transform reads exactly the chunks shard i's extract fetches.
    for (const index of [0, 1]) {
      bed.server.requests.length = 0;
      await extract({ from: '2024-01-01', to: '2024-01-04', chunk: '1d', refresh: true }, { index, count: 2 });
      const fetched = new Set(asked().map((q) => `${q.start_date}_${q.end_date}`));
      const read = new Set((await tableRows(transform({ index, count: 2 }))).map(({ part }) => part.split('/')[3]));
      expect(read).toEqual(fetched);
    }

    await writeFile(path.join(rawDir(), '2024-01-01_2024-01-01', 'page-0001.json'), '{"meta": ');
    const damaged = transform();
    await expect(damaged).rejects.toBeInstanceOf(DataError);
    // Changed since extract: refused by its manifest entry before it is parsed.
    await expect(damaged).rejects.toThrow(`${path.join(rawDir(), 'manifest.json')}: files[0].path "2024-01-01_2024-01-01/page-0001.json" is 9 bytes, the record says `);
  });
});

describe('supermetrics.transform: drift, dates and column names', () => {
  const transform = () => supermetrics.transform({ dataset: 'query', dataDir: bed.dataDir, options: {} }, io);
  const warnings = () => io.lines.filter((line) => line.startsWith('warn:'));
  const failure = async (): Promise<DataError> => (await tableRows(transform()).catch((error: unknown) => error)) as DataError;

  it('reports as drift only what it does not read: never data, which it reads', async () => {
    await extract({ from: '2024-01-01', to: '2024-01-02' });
    expect(await tableRows(transform())).toHaveLength(2 * 2);
    expect(warnings()).toEqual([]);

    bed.server.queue('/enterprise/', json(200, { ...(pivotedAnswer(pivotedRows('2024-01-03', '2024-01-03', 0)) as object), surprise: { note: 'new' } }));
    await extract({ from: '2024-01-03', to: '2024-01-03' });
    await tableRows(transform());
    expect(warnings()).toEqual(['warn: schema drift in query: 1 field not in the declaration, left out: surprise.note at $.surprise.note (e.g. "new")']);
  });

  it('a row dated outside the chunk its file was fetched for is a data error naming the file and the row', async () => {
    const rows = [...pivotedRows('2024-02-10', '2024-02-10', 0), ...pivotedRows('2020-01-01', '2020-01-01', 0)];
    bed.server.queue('/enterprise/', json(200, pivotedAnswer(rows)));
    await extract({ from: '2024-02-10', to: '2024-02-10' });
    const error = await failure();
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe('raw/supermetrics/query/2024-02-10_2024-02-10/page-0001.json: $.data[3] is dated 2020-01-01, outside 2024-02-10..2024-02-10, the period this file was fetched for');
    expect(error.hint).toMatch(/query file sets no dates of its own/);
  });

  it('field names that make the same column are told apart by a suffix, every value kept, and said once', async () => {
    const field = (name: string, type: string) => ({ field_name: name, field_type: type, field_split: 'row' });
    const answer = {
      meta: { query: { fields: [field('A b', 'dim'), field('a_b', 'dim'), field('Name', 'met'), field('name', 'met'), field('Extracted at', 'dim'), field('a_b_2', 'met')] } },
      data: [['x', 'y', 1, 2, 'z', 3]],
    };
    bed.server.queue('/enterprise/', json(200, answer));
    await extract({ from: '2024-01-01', to: '2024-01-01' });
    const rows = await tableRows(transform());
    expect(rows.map(({ row }) => row)).toEqual([
      { a_b: 'x', a_b_3: 'y', name: 1, name_2: 2, extracted_at_2: 'z', a_b_2: 3, extracted_at: expect.any(Date), source_file: 'raw/supermetrics/query/2024-01-01_2024-01-01/page-0001.json' },
    ]);
    expect(warnings()).toEqual([
      'warn: schema drift in query: 3 fields would share a column name, so a suffix tells them apart: "a_b" is a_b_3 (a_b is "A b"); "name" is name_2 (name is "Name"); "Extracted at" is extracted_at_2 (extracted_at is etl\'s lineage column)',
    ]);
  });

  const sample = (name: string) => JSON.parse(readFileSync(sharedFile('api-samples', 'supermetrics', name), 'utf8'));

  it.skipIf(!hasSharedData)('reads the recorded plain answer in ../shared with no drift', async () => {
    bed.server.queue('/enterprise/', json(200, sample('supermetrics_ga_rows_with_paging.json')));
    await extract({ from: '2023-01-01', to: '2023-01-03' });
    expect((await tableRows(transform())).map(({ row }) => [(row.date as Date).toISOString().slice(0, 10), row.sessions])).toEqual([['2023-01-01', 100], ['2023-01-02', 150], ['2023-01-03', 120]]);
    expect(warnings()).toEqual([]);
  });

  it.skipIf(!hasSharedData)('reads the recorded pivoted answer in ../shared with no drift; answered for another chunk, it is refused', async () => {
    bed.server.queue('/enterprise/', json(200, sample('supermetrics_ga_pivoted.json')));
    await extract({ from: '2020-01-01', to: '2020-01-01' });
    expect((await tableRows(transform())).map(({ row }) => row.m_site_total_click_to_rws)).toEqual([9]);
    expect(warnings()).toEqual([]);

    bed.server.queue('/enterprise/', json(200, sample('supermetrics_ga_pivoted.json')));
    await extract({ from: '2024-03-31', to: '2024-03-31' });
    expect((await failure()).message).toBe('raw/supermetrics/query/2024-03-31_2024-03-31/page-0001.json: $.data[1] is dated 2020-01-01, outside 2024-03-31..2024-03-31, the period this file was fetched for');
  });
});
