import { describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/log.js';
import type { ColumnType, Value } from '../../../src/core/table.js';
import { jsonColumns, jsonTable, type JsonColumn } from '../../../src/transform/json/json-table.js';
import { tableRows } from '../../helpers/table-rows.js';

/**
 * How the JSON table reader turns one field into a column value of each type (src/transform/json/json-table.ts), and
 * what it refuses: the values at each type's bounds, written as JSON text so numbers reach it exactly as sent.
 */
async function read(column: Omit<JsonColumn, 'name' | 'path'>, valueJson: string): Promise<Value | string> {
  const log = createLogger({ quiet: true, stream: { write: () => true } as unknown as NodeJS.WritableStream, interactive: false });
  const declaration = { name: 'd', title: 'd', records: 'items', columns: [{ name: 'v', path: 'v', ...column }] };
  const table = jsonTable(declaration, [{ entry: { fetched_at: '2024-01-01T00:00:00Z' }, read: async () => Buffer.from(`{"items":[{"v":${valueJson}}]}`), name: 'f.json' }], log);
  try {
    return (await tableRows(table))[0]!.row.v!;
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return (error as Error).message;
  }
}
const as = (type: ColumnType, valueJson: string): Promise<Value | string> => read({ type }, valueJson);

describe('the default conversion of each type', () => {
  it('string: text as sent; numbers and booleans as written', async () => {
    expect(await as('string', '"x"')).toBe('x');
    expect(await as('string', '12.50')).toBe('12.5');
    expect(await as('string', '123456789012345678901234567890')).toBe('123456789012345678901234567890');
    expect(await as('string', 'true')).toBe('true');
    expect(await as('string', '{"a":1}')).toMatch(/^f\.json: \$\.items\[0\]\.v is \{"a":1\}, expected /);
  });

  it('int32: whole numbers from -2^31 to 2^31-1, also as text', async () => {
    expect(await as('int32', '2147483647')).toBe(2147483647);
    expect(await as('int32', '-2147483648')).toBe(-2147483648);
    expect(await as('int32', '"42"')).toBe(42);
    for (const bad of ['2147483648', '-2147483649', '1.5', '"x"', 'true', '1e400']) expect(await as('int32', bad)).toMatch(/^f\.json: \$\.items\[0\]\.v is .*, expected /);
  });

  it('int64: exact past 2^53 as a bigint, up to 2^63-1; refused beyond', async () => {
    expect(await as('int64', '9007199254740991')).toBe(9007199254740991);
    expect(await as('int64', '-9007199254740991')).toBe(-9007199254740991);
    expect(await as('int64', '9007199254740993')).toBe(9007199254740993n);
    expect(await as('int64', '-9007199254740993')).toBe(-9007199254740993n);
    expect(await as('int64', '9223372036854775807')).toBe(9223372036854775807n);
    expect(await as('int64', '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(await as('int64', '"9007199254740993"')).toBe(9007199254740993n);
    expect(await as('int64', '9223372036854775808')).toMatch(/expected /);
    expect(await as('int64', '-9223372036854775809')).toMatch(/expected /);
    // int32 takes no bigint, however it came.
    expect(await as('int32', '9007199254740993')).toMatch(/expected /);
  });

  it('double: numbers and numeric text; blank text is null; other text, infinities and booleans are refused', async () => {
    expect(await as('double', '1.25')).toBe(1.25);
    expect(await as('double', '" -2.5e1 "')).toBe(-25);
    expect(await as('double', '".5"')).toBe(0.5);
    expect(await as('double', '"  "')).toBeNull();
    for (const bad of ['"1,5"', '"abc"', '1e400', 'true', '"1e400"']) expect(await as('double', bad)).toMatch(/expected /);
  });

  it('boolean: only true and false', async () => {
    expect(await as('boolean', 'true')).toBe(true);
    expect(await as('boolean', 'false')).toBe(false);
    expect(await as('boolean', '"true"')).toMatch(/expected /);
    expect(await as('boolean', '1')).toMatch(/expected /);
  });

  it('date: YYYY-MM-DD on the calendar', async () => {
    expect(await as('date', '"2024-02-29"')).toEqual(new Date('2024-02-29T00:00:00Z'));
    expect(await as('date', '"2024-02-30"')).toMatch(/2024-02-30.*a date on the calendar/);
    expect(await as('date', '"2024-2-3"')).toMatch(/expected /);
    expect(await as('date', '20240229')).toMatch(/expected /);
  });

  it('timestamp: an instant with its zone; seconds and fractions optional; checked against the calendar and the clock', async () => {
    expect(await as('timestamp', '"2024-02-29T10:30Z"')).toEqual(new Date('2024-02-29T10:30:00Z'));
    expect(await as('timestamp', '"2024-02-29T10:30:15.250+02:00"')).toEqual(new Date('2024-02-29T08:30:15.250Z'));
    expect(await as('timestamp', '"1999-12-31T23:59:59Z"')).toEqual(new Date('1999-12-31T23:59:59Z'));
    expect(await as('timestamp', '"2024-02-30T10:00Z"')).toMatch(/an instant on the calendar and the clock/);
    expect(await as('timestamp', '"2024-02-29T24:00Z"')).toMatch(/an instant on the calendar and the clock/);
    expect(await as('timestamp', '"2024-02-29T23:59:60Z"')).toMatch(/an instant on the calendar and the clock/);
    expect(await as('timestamp', '"2024-02-29T10:30"')).toMatch(/expected /);
    expect(await as('timestamp', '1709200000')).toMatch(/expected /);
  });

  it('a required column with nothing there is a data error naming the path; null fields are null', async () => {
    expect(await read({ type: 'string', required: true }, 'null')).toBe('f.json: $.items[0].v is missing (column v may not be empty)');
    expect(await as('string', 'null')).toBeNull();
  });
});

describe('a declared convert() must give a value that fits its column', () => {
  const convertTo = (type: ColumnType, result: Value): Promise<Value | string> => read({ type, convert: () => result }, '"anything"');

  it('each type takes its own kind of value and refuses others', async () => {
    expect(await convertTo('string', 'x')).toBe('x');
    expect(await convertTo('string', 1)).toMatch(/expected /);
    expect(await convertTo('int32', 2147483647)).toBe(2147483647);
    expect(await convertTo('int32', -2147483648)).toBe(-2147483648);
    expect(await convertTo('int32', 2147483648)).toMatch(/expected /);
    expect(await convertTo('int32', -2147483649)).toMatch(/expected /);
    expect(await convertTo('int32', 1.5)).toMatch(/expected /);
    expect(await convertTo('int32', '1')).toMatch(/expected /);
    expect(await convertTo('int64', 2 ** 53 - 1)).toBe(2 ** 53 - 1);
    expect(await convertTo('int64', 2 ** 53)).toMatch(/expected /);
    expect(await convertTo('int64', 2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    expect(await convertTo('int64', -(2n ** 63n))).toBe(-(2n ** 63n));
    expect(await convertTo('int64', 2n ** 63n)).toMatch(/expected /);
    expect(await convertTo('int64', -(2n ** 63n) - 1n)).toMatch(/expected /);
    expect(await convertTo('int64', '1')).toMatch(/expected /);
    expect(await convertTo('double', 1.5)).toBe(1.5);
    expect(await convertTo('double', Infinity)).toMatch(/expected /);
    expect(await convertTo('double', '1.5')).toMatch(/expected /);
    expect(await convertTo('boolean', false)).toBe(false);
    expect(await convertTo('boolean', 0)).toMatch(/expected /);
    expect(await convertTo('date', new Date('2024-01-01T00:00:00Z'))).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(await convertTo('date', new Date(NaN))).toMatch(/expected /);
    expect(await convertTo('timestamp', '2024-01-01')).toMatch(/expected /);
    expect(await convertTo('string', null)).toBeNull();
  });

  it('a convert() that throws gives its message as what was expected', async () => {
    expect(await read({ type: 'string', convert: () => { throw new Error('a thing of the right shape'); } }, '"x"')).toBe('f.json: $.items[0].v is "x", expected a thing of the right shape for column v');
  });
});

describe('jsonColumns', () => {
  it('the declared columns (nullable unless required, with their description), then the lineage columns; a name twice is refused', () => {
    const declaration = { name: 'd', title: 'd', records: 'items', columns: [{ name: 'a', type: 'string' as const, path: 'a', required: true, description: 'the a' }, { name: 'b', type: 'double' as const, path: 'b' }] };
    expect(jsonColumns(declaration).map((c) => [c.name, c.type, c.nullable, c.description])).toEqual([
      ['a', 'string', false, 'the a'],
      ['b', 'double', true, undefined],
      ['extracted_at', 'timestamp', false, expect.any(String)],
      ['source_file', 'string', false, expect.any(String)],
    ]);
    expect(() => jsonColumns({ ...declaration, columns: [...declaration.columns, { name: 'a', type: 'string', path: 'x' }] })).toThrow('d declares the column a twice');
    expect(() => jsonColumns({ ...declaration, columns: [{ name: 'source_file', type: 'string', path: 'x' }] })).toThrow('d declares the column source_file twice');
  });
});
