import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/log.js';
import type { Row, Value } from '../../../src/core/table.js';
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

/** One record `{ v: <literal> }` through one column of `type`: the value, or the error message. */
async function oneValue(type: JsonTableDeclaration['columns'][number]['type'], literal: string, convert?: (value: unknown) => Value): Promise<Value | string> {
  const declaration: JsonTableDeclaration = { name: 'values', title: 'values', records: 'items', columns: [{ name: 'v', type, path: 'v', ...(convert ? { convert } : {}) }] };
  const file = await rawFile(`value-${type}.json`, `{"items": [{"v": null}, {"v": ${literal}}]}`);
  try {
    return (await readAll(declaration, [file], recordingLogger()))[1]!.v!;
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    return error.message;
  }
}
const refused = (type: string, literal: string, expected: string) => `raw/test/value-${type}.json: $.items[1].v is ${literal}, expected ${expected} for column v`;
const INT32 = 'a whole number that fits INT32 (-2147483648 to 2147483647)';
const INT64 = 'a whole number that fits INT64 (-9223372036854775808 to 9223372036854775807)';
const DOUBLE = 'a number that fits a DOUBLE (up to ±1.8e308)';

describe('jsonTable: a value is stored as it was, or refused naming the field and the record', () => {
  it.each<[string, string, Value | string]>([
    ['double', '1e400', refused('double', '1e400', DOUBLE)],
    ['double', '-1e400', refused('double', '-1e400', DOUBLE)],
    ['double', '"1e400"', refused('double', '"1e400"', DOUBLE)],
    ['double', '"NaN"', refused('double', '"NaN"', DOUBLE)],
    ['double', '"-Infinity"', refused('double', '"-Infinity"', DOUBLE)],
    ['double', '1.5e300', 1.5e300],
    ['double', '12345678901234567891', 12345678901234567891],
    ['double', '"2.5"', 2.5],
    ['int32', '2147483647', 2147483647],
    ['int32', '2147483648', refused('int32', '2147483648', INT32)],
    ['int32', '-2147483649', refused('int32', '-2147483649', INT32)],
    ['int32', '1.5', refused('int32', '1.5', INT32)],
    ['int32', '"42.0"', 42],
    ['int64', '9007199254740993', 9007199254740993n],
    ['int64', '-9223372036854775808', -9223372036854775808n],
    ['int64', '"9223372036854775807"', 9223372036854775807n],
    ['int64', '9223372036854775808', refused('int64', '9223372036854775808', INT64)],
    ['int64', '1e400', refused('int64', '1e400', INT64)],
    ['int64', '1e20', refused('int64', '100000000000000000000', INT64)],
    ['int64', '"1.5e3"', 1500],
    ['string', '12345678901234567891', '12345678901234567891'],
    ['string', '1e400', '1e400'],
    ['string', '42', '42'],
  ])('%s %s', async (type, literal, expected) => {
    expect(await oneValue(type as 'double', literal)).toEqual(expected);
  });

  it('a convert() whose value does not fit its column is refused the same way', async () => {
    expect(await oneValue('int64', '"x"', () => 2 ** 60)).toBe(refused('int64', '"x"', INT64));
    expect(await oneValue('int32', '"x"', () => 2 ** 40)).toBe(refused('int32', '"x"', INT32));
    expect(await oneValue('double', '"x"', () => Number.POSITIVE_INFINITY)).toBe(refused('double', '"x"', DOUBLE));
    expect(await oneValue('double', '"x"', () => Number.NaN)).toBe(refused('double', '"x"', DOUBLE));
    expect(await oneValue('timestamp', '"x"', () => new Date(Number.NaN))).toBe(refused('timestamp', '"x"', 'an ISO-8601 instant with a zone'));
    expect(await oneValue('int64', '"x"', () => 2n ** 62n)).toBe(2n ** 62n);
  });

  it.each<[string, string, string | null]>([
    ['date', '"2024-02-29"', '2024-02-29T00:00:00.000Z'],
    ['date', '"2024-02-30"', 'a date on the calendar'],
    ['date', '"2023-02-29"', 'a date on the calendar'],
    ['date', '"2024-04-31"', 'a date on the calendar'],
    ['date', '"2024-13-01"', 'a date on the calendar'],
    ['date', '"2024-00-10"', 'a date on the calendar'],
    ['date', '"2024-01-00"', 'a date on the calendar'],
    ['date', '"0050-06-01"', '0050-06-01T00:00:00.000Z'],
    ['date', '"2024-2-3"', 'a date YYYY-MM-DD'],
    ['timestamp', '"2024-02-29T23:59:59.5Z"', '2024-02-29T23:59:59.500Z'],
    ['timestamp', '"2024-03-01T01:00:00+02:00"', '2024-02-29T23:00:00.000Z'],
    ['timestamp', '"2024-02-30T10:00:00Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2023-02-29T10:00:00Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01T25:00:00Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01T24:00:00Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01T23:61:00Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01T23:59:60Z"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01T10:00:00+24:00"', 'an instant on the calendar and the clock'],
    ['timestamp', '"2024-01-01 10:00:00"', 'an ISO-8601 instant with a zone'],
  ])('%s %s', async (type, literal, expected) => {
    const value = await oneValue(type as 'date', literal);
    if (value instanceof Date) expect(value.toISOString()).toBe(expected);
    else expect(value).toBe(refused(type, literal, expected!));
  });
});

describe('jsonTable: records read by code, checked rows, hostile nesting', () => {
  const cells: JsonTableDeclaration = {
    name: 'cells',
    title: 'cells',
    records: {
      from: 'rows',
      read: (body) => ({
        records: (body as { rows: unknown[][] }).rows.map(([day, count]) => ({ day, count })),
        pathOf: (index, column) => `$.rows[${index}]${column === undefined ? '' : `[${column === 'day' ? 0 : 1}]`}`,
      }),
    },
    columns: [
      { name: 'day', type: 'date', path: 'day', required: true },
      { name: 'count', type: 'int32', path: 'count' },
    ],
    checkRow: (row, file) => ((row.day as Date).getUTCFullYear() !== 2024 ? { message: `is not in 2024 (${file.entry.key})`, hint: 'extract 2024 again' } : undefined),
  };

  it('what a reader reads is not drift; its paths name the cell; a row the check refuses is a data error naming the row', async () => {
    const log = recordingLogger();
    const good = await rawFile('cells.json', { rows: [['2024-01-01', 1], ['2024-01-02', 2]], meta: 'x' });
    expect((await readAll(cells, [good], log)).map((row) => row.count)).toEqual([1, 2]);
    expect(log.warnings).toEqual(['schema drift in cells: 1 field not in the declaration, left out: meta at $.meta (e.g. "x")']);

    const wrongCell = await rawFile('cells-wrong.json', { rows: [['2024-01-01', 1], ['2024-01-02', 1e10]] });
    await expect(readAll(cells, [wrongCell], recordingLogger())).rejects.toThrow(`raw/test/cells-wrong.json: $.rows[1][1] is 10000000000, expected ${INT32} for column count`);

    const outside = { ...(await rawFile('cells-outside.json', { rows: [['2024-01-01', 1], ['2020-01-01', 2]] })), entry: { fetched_at: '2026-01-02T03:04:05.000Z', key: 'chunk-2024/1' } };
    const error = (await readAll(cells, [outside], recordingLogger()).catch((thrown: unknown) => thrown)) as DataError;
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe('raw/test/cells-outside.json: $.rows[1] is not in 2024 (chunk-2024/1)');
    expect(error.hint).toBe('extract 2024 again');
  });

  it('an answer nested thousands of levels deep is a data error naming the file and the path, wherever the nesting is', async () => {
    const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    for (const [where, body, path] of [
      ['inside a person', `{"data": {"items": [${JSON.stringify(person('a')).replace(/}$/, `, "extra": ${deep(5000)}}`)}]}}`, '$.data.items[0].extra.a.a.a.a.a.a.a.a…'],
      ['in a declared column', `{"data": {"items": [${JSON.stringify(person('a')).replace('"Leeds"', '['.repeat(100) + ']'.repeat(100))}]}}`, '$.data.items[0].location.city[0][0][0][0][0][0][0]…'],
      ['at the root', `[${'['.repeat(5000)}${']'.repeat(5000)}]`, '$[0][0][0][0][0][0][0][0][0][0][0][0]…'],
    ] as const) {
      const file = await rawFile('deep.json', body);
      const error = (await readAll(people, [file], recordingLogger()).catch((thrown: unknown) => thrown)) as DataError;
      expect(error, where).toBeInstanceOf(DataError);
      expect(error.message, where).toBe(`raw/test/deep.json: ${path} is nested more than 64 levels deep, past what etl reads`);
    }
  });

  it('a deep value in a drift example or an error message is shown short, never stringified whole', async () => {
    const log = recordingLogger();
    const long = 'x'.repeat(100_000);
    await readAll(people, [await rawFile('long.json', { data: { items: [person('a', { note: long })] } })], log);
    expect(log.warnings[0]!.length).toBeLessThan(300);
    const wrong = await rawFile('long-wrong.json', { data: { items: [person('a', { age: long })] } });
    const error = (await readAll(people, [wrong], recordingLogger()).catch((thrown: unknown) => thrown)) as DataError;
    expect(error.message.length).toBeLessThan(300);
  });
});
