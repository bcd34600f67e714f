import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionParquet } from '../../src/transform/parquet/partition-parquet.js';
import { readParquet } from '../helpers/parquet.js';
import { startServe, writeParquetWithDuckDb, type ServeProcess } from '../helpers/serve.js';

/**
 * The rows API through real HTTP against the built CLI: a dataset whose every value is known here (the model
 * below mirrors the SQL that wrote it), as one file and as a partitioned folder.
 */
const N = 2000;
const UNSAFE = '9007199254740993';
const THINGS_SQL = `SELECT i::BIGINT AS id, (i % 7)::INTEGER AS grp, DATE '2020-01-01' + (i % 30)::INTEGER AS day,
  CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || (i % 11) END AS name, (i * 0.25)::DOUBLE AS x,
  CASE WHEN i = 3 THEN ${UNSAFE} ELSE i END::BIGINT AS big, i % 2 = 0 AS flag,
  TIMESTAMP '2020-01-01 00:00:00' + to_minutes(i) AS ts
  FROM range(${N}) t(i)`;

interface Thing {
  id: number;
  grp: number;
  day: string;
  name: string | null;
  x: number;
  big: number | string;
  flag: boolean;
  ts: string;
}

const model: Thing[] = Array.from({ length: N }, (_, i) => ({
  id: i,
  grp: i % 7,
  day: new Date(Date.UTC(2020, 0, 1 + (i % 30))).toISOString().slice(0, 10),
  name: i % 5 === 0 ? null : `n${i % 11}`,
  x: i * 0.25,
  big: i === 3 ? UNSAFE : i,
  flag: i % 2 === 0,
  ts: new Date(Date.UTC(2020, 0, 1, 0, i)).toISOString().slice(0, 19),
}));

let work: string;
let serve: ServeProcess;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-serve-'));
  await mkdir(path.join(work, 'processed', 'demo'), { recursive: true });
  const file = path.join(work, 'processed', 'demo', 'things.parquet');
  await writeParquetWithDuckDb(file, THINGS_SQL);
  const whole = path.join(work, 'whole.parquet');
  await writeParquetWithDuckDb(whole, THINGS_SQL);
  await partitionParquet(whole, 'grp', path.join(work, 'processed', 'demo', 'parted'));
  // Not datasets: a file that is not parquet, a temp file, a folder without a manifest.
  await writeFile(path.join(work, 'processed', 'demo', 'notes.txt'), 'not a dataset');
  await mkdir(path.join(work, 'processed', 'demo', 'empty'));
  serve = await startServe(['--data-dir', work, '--max-rows', '500', '--max-in', '20']);
});

afterAll(async () => {
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

const get = (route: string, headers: Record<string, string> = {}): Promise<Response> => fetch(serve.url + route, { headers });

async function json<T = Record<string, unknown>>(route: string): Promise<{ status: number; body: T }> {
  const response = await get(route);
  return { status: response.status, body: (await response.json()) as T };
}

/** Every page of a JSON selection, following `next`; each page checked to be at most `limit` rows. */
async function allPages(dataset: string, query: string, limit: number): Promise<{ rows: Thing[]; pages: number }> {
  const rows: Thing[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const route: string = `/v1/datasets/demo/${dataset}/rows?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const { status, body }: { status: number; body: { rows: Thing[]; next: string | null; error?: string } } = await json(route);
    expect(status, body.error).toBe(200);
    expect(body.rows.length).toBeLessThanOrEqual(limit);
    rows.push(...body.rows);
    cursor = body.next;
    pages++;
  } while (cursor !== null && pages < 1000);
  return { rows, pages };
}

const ids = (rows: ReadonlyArray<{ id: number }>): number[] => rows.map((r) => r.id).sort((a, b) => a - b);
const expectedIds = (keep: (thing: Thing) => boolean): number[] => model.filter(keep).map((t) => t.id);

describe('filters: each operator selects what the model says', () => {
  const cases: Array<[string, (t: Thing) => boolean]> = [
    ['grp=3', (t) => t.grp === 3],
    ['grp__eq=3', (t) => t.grp === 3],
    ['grp__ne=3', (t) => t.grp !== 3],
    ['id__gt=1990', (t) => t.id > 1990],
    ['id__gte=1990', (t) => t.id >= 1990],
    ['id__lt=10', (t) => t.id < 10],
    ['id__lte=10', (t) => t.id <= 10],
    ['day__gte=2020-01-29', (t) => t.day >= '2020-01-29'],
    ['day=2020-01-05&grp__in=1,2', (t) => t.day === '2020-01-05' && (t.grp === 1 || t.grp === 2)],
    ['name__in=n1,n10', (t) => t.name === 'n1' || t.name === 'n10'],
    ['name__null=true', (t) => t.name === null],
    ['name__null=false&grp=0', (t) => t.name !== null && t.grp === 0],
    ['name__ne=n1&grp=1', (t) => t.name !== null && t.name !== 'n1' && t.grp === 1],
    ['flag=true&id__lt=20', (t) => t.flag && t.id < 20],
    ['x__gt=499.5', (t) => t.x > 499.5],
    [`big=${UNSAFE}`, (t) => t.big === UNSAFE],
    ['ts__lt=2020-01-01T00:05:00', (t) => t.ts < '2020-01-01T00:05:00'],
    ['ts__gte=2020-01-02T09:00:00Z', (t) => t.ts >= '2020-01-02T09:00:00'],
  ];
  for (const dataset of ['things', 'parted']) {
    it.each(cases)(`${dataset}: %s`, async (query, keep) => {
      const { rows } = await allPages(dataset, query, 500);
      expect(ids(rows)).toEqual(expectedIds(keep));
    });
  }
});

describe('keyset pagination', () => {
  it('ordered by a column with many equal values, every row comes exactly once, in order', async () => {
    for (const dataset of ['things', 'parted']) {
      const { rows, pages } = await allPages(dataset, 'order=grp', 37);
      expect(pages).toBe(Math.ceil(N / 37));
      expect(ids(rows)).toEqual(model.map((t) => t.id));
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.grp).toBeGreaterThanOrEqual(rows[i - 1]!.grp);
    }
  });

  it('descending with nulls first, then a second key, under a filter', async () => {
    const { rows } = await allPages('parted', 'order=-name,day&day__lt=2020-01-20', 41);
    const expected = model.filter((t) => t.day < '2020-01-20');
    expect(ids(rows)).toEqual(ids(expected));
    expect(rows.slice(0, expected.filter((t) => t.name === null).length).every((r) => r.name === null)).toBe(true);
    const key = (r: Thing): string => `${r.name === null ? '~' : r.name}`;
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1]!, rows[i]!];
      expect(key(a) > key(b) || (key(a) === key(b) && a.day <= b.day)).toBe(true);
    }
  });

  it('ascending by a column with nulls: the nulls come last, once each', async () => {
    const { rows } = await allPages('things', 'order=name,-id', 53);
    expect(ids(rows)).toEqual(model.map((t) => t.id));
    const nulls = model.filter((t) => t.name === null).length;
    expect(rows.slice(-nulls).every((r) => r.name === null)).toBe(true);
    expect(rows.slice(-nulls).map((r) => r.id)).toEqual(model.filter((t) => t.name === null).map((t) => t.id).reverse());
  });

  it('the last page says next: null, and a cursor from another order is refused', async () => {
    const last = await json<{ rows: Thing[]; next: string | null }>('/v1/datasets/demo/things/rows?id__gte=1995&order=id&limit=10');
    expect(last.body.rows.map((r) => r.id)).toEqual([1995, 1996, 1997, 1998, 1999]);
    expect(last.body.next).toBeNull();
    const first = await json<{ next: string }>('/v1/datasets/demo/things/rows?order=grp&limit=5');
    const other = await json<{ error: string }>(`/v1/datasets/demo/things/rows?order=-grp&limit=5&cursor=${first.body.next}`);
    expect(other.status).toBe(400);
    expect(other.body.error).toMatch(/cursor was made for order=grp, not order=-grp/);
    const forged = await json<{ error: string }>(`/v1/datasets/demo/things/rows?cursor=${Buffer.from('{"o":"","v":["1 OR 1=1"]}').toString('base64url')}`);
    expect(forged.status).toBe(400);
  });
});

describe('formats', () => {
  const selection = 'grp__in=2,5&order=-day,name&columns=id,grp,day,name,x,big,flag,ts';

  async function jsonRows(): Promise<Thing[]> {
    return (await allPages('things', selection, 500)).rows;
  }

  it('JSON types: dates ISO, 64-bit integers as numbers when exact, else strings', async () => {
    const { body } = await json<{ rows: Thing[] }>('/v1/datasets/demo/things/rows?id__lte=3&order=id');
    expect(body.rows).toEqual(model.slice(0, 4));
    expect(typeof body.rows[3]!.big).toBe('string');
    expect(typeof body.rows[2]!.big).toBe('number');
  });

  it('NDJSON holds the same rows as the JSON pages, in one stream', async () => {
    const response = await get(`/v1/datasets/demo/things/rows?${selection}&format=ndjson`);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as Thing);
    expect(lines).toEqual(await jsonRows());
  });

  it('CSV (asked by the Accept header) holds the same rows', async () => {
    const response = await get(`/v1/datasets/demo/things/rows?${selection}`, { Accept: 'text/csv' });
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...lines] = (await response.text()).trimEnd().split('\n');
    expect(header).toBe('id,grp,day,name,x,big,flag,ts');
    const asText = (t: Thing): string => [t.id, t.grp, t.day, t.name ?? '', Number.isInteger(t.x) ? t.x.toFixed(1) : t.x, t.big, t.flag, t.ts.replace('T', ' ')].join(',');
    expect(lines).toEqual((await jsonRows()).map(asText));
  });

  it('parquet, read back by an independent reader, holds the same rows', async () => {
    const response = await get(`/v1/datasets/demo/things/rows?${selection}&format=parquet`);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const file = path.join(work, 'answer.parquet');
    await writeFile(file, Buffer.from(await response.arrayBuffer()));
    const { rows } = await readParquet(file);
    const normalised = rows.map((r) => ({
      id: Number(r.id),
      grp: r.grp,
      day: (r.day as Date).toISOString().slice(0, 10),
      name: r.name,
      x: r.x,
      big: Number.isSafeInteger(Number(r.big)) ? Number(r.big) : String(r.big),
      flag: r.flag,
      ts: (r.ts as Date).toISOString().slice(0, 19),
    }));
    expect(normalised).toEqual(await jsonRows());
  });

  it('a query that fails before its first byte is an error status, not an empty 200', async () => {
    for (const format of ['csv', 'parquet', 'ndjson']) {
      // Of the form of a whole number, beyond what an INTEGER holds: DuckDB refuses it when the query starts.
      const response = await get(`/v1/datasets/demo/things/rows?grp=99999999999&format=${format}`);
      expect(response.status, format).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/Conversion Error/);
    }
  });

  it('an unknown format is a 400 naming it', async () => {
    const { status, body } = await json<{ error: string }>('/v1/datasets/demo/things/rows?format=xml');
    expect(status).toBe(400);
    expect(body.error).toMatch(/unknown format "xml"/);
  });
});

describe('refusals: one line naming what was wrong', () => {
  it.each([
    ['nope=1', /unknown column "nope"/],
    ['grp__like=1', /unknown operator "__like"/],
    ['columns=id,secret', /unknown column "secret" in columns/],
    ['order=-nope', /unknown column "nope" in order/],
    ['grp=abc', /grp: "abc" is not a whole number/],
    ['day=2020-13-45', /day: "2020-13-45" is not a date, YYYY-MM-DD/],
    ['ts__gt=2020-02-30T00:00:00', /ts: "2020-02-30T00:00:00" is not a date or time/],
    ['name__null=maybe', /expected true or false/],
    ['limit=501', /limit 501 is more than the 500 rows a JSON page holds/],
    ['limit=0', /limit "0" is not a whole number of 1 or more/],
    [`grp__in=${Array.from({ length: 21 }, (_, i) => i).join(',')}`, /grp__in lists 21 values; at most 20/],
    ['cursor=not-a-cursor', /cursor is not one this server gave out/],
    ['order=id;DROP TABLE x', /unknown column "id;DROP TABLE x" in order/],
    ['columns=id"%20FROM%20read_text(\'/etc/passwd\')--', /unknown column/],
  ])('%s', async (query, message) => {
    const { status, body } = await json<{ error: string }>(`/v1/datasets/demo/things/rows?${query}`);
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
    expect(body.error).not.toContain('\n');
  });

  it('a value that is SQL is only ever a value: it matches nothing', async () => {
    for (const value of ["' OR '1'='1", "n1' --", 'n1); DROP TABLE x; --']) {
      const { status, body } = await json<{ rows: unknown[] }>(`/v1/datasets/demo/things/rows?name=${encodeURIComponent(value)}`);
      expect(status).toBe(200);
      expect(body.rows).toEqual([]);
    }
  });

  it('dataset names are looked up, never walked: ../ and encoded slashes are 404s', async () => {
    for (const route of ['/v1/datasets/demo/..%2F..%2Fwhole/rows', '/v1/datasets/..%2Fprocessed/things/rows', '/v1/datasets/demo/things.parquet/rows', '/v1/datasets/demo/%2E%2E/rows', '/v1/datasets/demo/empty/rows', '/v1/datasets/demo/notes/rows']) {
      const response = await get(route);
      expect(response.status, route).toBe(404);
    }
    // Sent raw, as no browser would: the path is not normalised on the way.
    const raw = await new Promise<number>((resolve, reject) => {
      const url = new URL(serve.url);
      request({ host: url.hostname, port: url.port, path: '/v1/datasets/demo/../../../etc/passwd/rows' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(raw).toBe(404);
  });

  it('only GET and HEAD', async () => {
    const response = await fetch(`${serve.url}/v1/datasets`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('catalog', () => {
  it('lists each dataset with its columns, rows, files and freshness', async () => {
    const { body } = await json<{ datasets: Array<{ id: string; rows: number; kind: string; columns: Array<{ name: string; type: string }>; files: Array<{ path: string }>; age_seconds: number }> }>('/v1/datasets');
    expect(body.datasets.map((d) => d.id)).toEqual(['demo/parted', 'demo/things']);
    const things = body.datasets[1]!;
    expect(things.rows).toBe(N);
    expect(things.columns.map((c) => `${c.name} ${c.type}`)).toEqual(['id BIGINT', 'grp INTEGER', 'day DATE', 'name VARCHAR', 'x DOUBLE', 'big BIGINT', 'flag BOOLEAN', 'ts TIMESTAMP']);
    expect(things.files).toEqual([{ path: 'processed/demo/things.parquet', bytes: expect.any(Number) }]);
    expect(body.datasets[0]!.kind).toBe('partitioned');
    expect(body.datasets[0]!.files).toHaveLength(7);
    expect(things.age_seconds).toBeGreaterThanOrEqual(0);
  });

  it('/openapi.json is OpenAPI 3.1 with a filter parameter per column and operator', async () => {
    const { body } = await json<{ openapi: string; paths: Record<string, { get: { parameters: Array<{ name: string }> } }> }>('/openapi.json');
    expect(body.openapi).toBe('3.1.0');
    const names = body.paths['/v1/datasets/demo/things/rows']!.get.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['limit', 'cursor', 'grp', 'grp__ne', 'grp__in', 'name__null', 'ts__lte']));
  });

  it('/healthz answers', async () => {
    expect((await json('/healthz')).body).toEqual({ status: 'ok' });
  });
});
