import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/log.js';
import type { Row } from '../../../src/core/table.js';
import { jsonTable, type JsonTableDeclaration, type RawJsonFile } from '../../../src/transform/json/json-table.js';

/** The engine in-process: what a declaration keeps, converts, reports as drift and refuses. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-json-table-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = (): void => undefined;
  return { warnings, debug: ignore, info: ignore, error: ignore, warn: (message) => void warnings.push(message), progress: () => ({ update: ignore, done: ignore, fail: ignore }) };
}

async function rawFile(name: string, body: unknown, fetchedAt = '2026-01-02T03:04:05.000Z'): Promise<RawJsonFile> {
  const file = path.join(dir, name);
  await writeFile(file, typeof body === 'string' ? body : JSON.stringify(body));
  return { entry: { fetched_at: fetchedAt }, read: () => readFile(file), name: `raw/test/${name}` };
}

async function readAll(declaration: JsonTableDeclaration, files: RawJsonFile[], log: Logger): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const part of jsonTable(declaration, files, log).parts) for await (const row of part.rows) rows.push(row);
  return rows;
}

const people: JsonTableDeclaration = {
  name: 'people',
  title: 'people',
  records: 'data.items',
  columns: [
    { name: 'id', type: 'string', path: 'login.id', required: true },
    { name: 'city', type: 'string', path: 'location.city' },
    { name: 'street', type: 'string', path: 'location.street', convert: (value) => (typeof value === 'string' ? value : JSON.stringify(value)) },
    { name: 'age', type: 'int32', path: 'age' },
    { name: 'born', type: 'timestamp', path: 'born' },
    { name: 'day', type: 'date', path: 'day' },
    { name: 'score', type: 'double', path: 'score' },
    { name: 'version', type: 'string', path: '$.meta.version' },
  ],
  ignore: ['login.password', '$.meta.secret'],
};

const person = (id: string, extra: Record<string, unknown> = {}) => ({
  login: { id, password: 'hunter2' },
  location: { city: 'Leeds', street: { number: 1, name: 'High St' } },
  age: '42',
  born: '1984-05-06T07:08:09Z',
  day: '2024-02-29',
  score: 1.5,
  ...extra,
});

describe('jsonTable', () => {
  it('reads declared columns, converts them, adds lineage, and leaves known and ignored fields out of the drift report', async () => {
    const log = recordingLogger();
    const file = await rawFile('clean.json', { meta: { version: 'v2', secret: 's' }, data: { items: [person('a'), person('b', { score: null })] } });
    const rows = await readAll(people, [file], log);
    expect(rows).toEqual([
      { id: 'a', city: 'Leeds', street: '{"number":1,"name":"High St"}', age: 42, born: new Date('1984-05-06T07:08:09Z'), day: new Date(Date.UTC(2024, 1, 29)), score: 1.5, version: 'v2', extracted_at: new Date('2026-01-02T03:04:05.000Z'), source_file: 'raw/test/clean.json' },
      expect.objectContaining({ id: 'b', score: null }),
    ]);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'city', 'street', 'age', 'born', 'day', 'score', 'version', 'extracted_at', 'source_file']);
    expect(log.warnings).toEqual([]);
  });

  it('reports each unknown leaf once, with its JSON path and a first example, in records and at the root', async () => {
    const log = recordingLogger();
    const first = await rawFile('drift-1.json', {
      meta: { version: 'v2', build: 7 },
      data: { items: [person('a', { favourite: { colour: 'green', food: { main: 'pie' } }, tags: ['x'], empty: {} }), person('b', { favourite: { colour: 'blue' } })] },
    });
    const second = await rawFile('drift-2.json', { data: { items: [person('c', { login: { id: 'c', password: 'p', md5: 'abc' } })] } });
    const rows = await readAll(people, [first, second], log);
    expect(rows.map((row) => row.id)).toEqual(['a', 'b', 'c']);
    expect(log.warnings).toHaveLength(1);
    const warning = log.warnings[0]!;
    expect(warning).toMatch(/^schema drift in people: 6 fields not in the declaration, left out: /);
    for (const reported of [
      'meta.build at $.meta.build (e.g. 7)',
      'favourite.colour at $.data.items[*].favourite.colour (e.g. "green")',
      'favourite.food.main at $.data.items[*].favourite.food.main (e.g. "pie")',
      'tags at $.data.items[*].tags (e.g. ["x"])',
      'empty at $.data.items[*].empty (e.g. {})',
      'login.md5 at $.data.items[*].login.md5 (e.g. "abc")',
    ]) {
      expect(warning).toContain(reported);
    }
    // Partly known objects (login, location) are not drift themselves; covered paths hide what is below them.
    expect(warning).not.toMatch(/password|street|login at|location at|secret/);
  });

  it('stops listing drift at 50 fields, however many there are', async () => {
    const log = recordingLogger();
    const extra = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`field_${i}`, i]));
    await readAll(people, [await rawFile('wide.json', { data: { items: [person('a', extra)] } })], log);
    expect(log.warnings[0]).toMatch(/: 50 fields not in the declaration/);
    expect(log.warnings[0]).toContain('field_49 at');
    expect(log.warnings[0]).not.toContain('field_50 at');
  });

  it('names the raw file and the JSON path of the record in a missing required field and in a value of the wrong type', async () => {
    const missing = await rawFile('missing.json', { data: { items: [person('a'), person('b'), { ...person('c'), login: {} }] } });
    const error = (await readAll(people, [missing], recordingLogger()).catch((thrown: unknown) => thrown)) as DataError;
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe('raw/test/missing.json: $.data.items[2].login.id is missing (column id may not be empty)');
    const wrongType = await rawFile('wrong.json', { data: { items: [person('a'), person('b', { born: '1984-05-06 07:08' })] } });
    await expect(readAll(people, [wrongType], recordingLogger())).rejects.toThrow(
      'raw/test/wrong.json: $.data.items[1].born is "1984-05-06 07:08", expected an ISO-8601 instant with a zone for column born',
    );
    const rootWrong = await rawFile('root.json', { meta: { version: { major: 2 } }, data: { items: [person('a')] } });
    await expect(readAll(people, [rootWrong], recordingLogger())).rejects.toThrow('raw/test/root.json: $.meta.version is {"major":2}, expected text for column version');
    const notAList = await rawFile('not-a-list.json', { data: { items: { a: 1 } } });
    await expect(readAll(people, [notAList], recordingLogger())).rejects.toThrow('raw/test/not-a-list.json: $.data.items is not a list of records');
    const notJson = await rawFile('not-json.json', '{"data": {"items": [');
    await expect(readAll(people, [notJson], recordingLogger())).rejects.toThrow(/^raw\/test\/not-json\.json is not valid JSON: /);
  });

  it('keeps the first row of each key when deduplicating', async () => {
    const deduped: JsonTableDeclaration = { ...people, dedupeOn: ['id'] };
    const newest = await rawFile('newest.json', { data: { items: [person('a', { age: 1 }), person('b', { age: 2 })] } }, '2026-02-01T00:00:00.000Z');
    const older = await rawFile('older.json', { data: { items: [person('a', { age: 9 }), person('c', { age: 3 })] } }, '2026-01-01T00:00:00.000Z');
    const rows = await readAll(deduped, [newest, older], recordingLogger());
    expect(rows.map((row) => [row.id, row.age, row.source_file])).toEqual([
      ['a', 1, 'raw/test/newest.json'],
      ['b', 2, 'raw/test/newest.json'],
      ['c', 3, 'raw/test/older.json'],
    ]);
  });
});
