import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { describePostgres } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * Each column type through `etl extract postgres table`, read back by hyparquet (the raw chunk, a reader
 * independent of the writer) and through `etl transform`: the values the server holds, NULLs as nulls, types
 * the raw chunk has no type for (uuid, inet, jsonb, interval, arrays, bare numeric) as the server's text output.
 * The first extract and transform run the built CLI as a process; the others go through the CLI's `main` in this
 * process (test/helpers/cli-in-process.ts), the same code.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pg-types-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describePostgres('etl extract postgres table: column types', (database) => {
  let extracts = 0;
  const extract = (data: string, table: string) =>
    (extracts++ === 0 ? runCli : runCliInProcess)(['extract', 'postgres', 'table', '--url', database().url(), '--table', table, '--data-dir', data], { env: database().env });
  const rawChunk = async (data: string, table: string): Promise<string> => {
    const dir = path.join(data, 'raw', 'postgres', 'table', table);
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { chunks: Array<{ path: string }> };
    return path.join(dir, manifest.chunks.at(-1)!.path);
  };

  beforeAll(async () => {
    await database().query(`CREATE SCHEMA kinds;
      CREATE TABLE kinds.every (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision, n numeric(12,3), nfree numeric, b boolean, d date,
        ts timestamp, tstz timestamptz, t text, vc varchar(20), ch char(5), u uuid, ip inet, j jsonb, iv interval, arr int[], "Odd ""name""" text);
      INSERT INTO kinds.every VALUES
        (1, -32768, 9007199254740993, 1.1, 0.1, -1234.567, 3.14159265358979323846264338327950288, true, '1999-12-31', '1969-07-20 20:17:40.5', '2024-03-01 12:00:00+02', 'plain', 'vé', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.1.2.3', '{"k": [1, 2]}', '1 day 02:00:00', '{1,NULL,3}', 'odd'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 32767, -42, -2.5, -1e300, 0, 'NaN', false, '2000-01-01', '2000-01-01 00:00:00', '1900-01-01 00:00:00+00', '', '', '', '00000000-0000-0000-0000-000000000000', '192.168.0.0/16', '[]', '-3 mons', '{}', '');
      CREATE TABLE kinds.empty (id int PRIMARY KEY, name text);
      CREATE TABLE kinds.many (id bigint PRIMARY KEY, code text, amount numeric(10,2), at timestamptz);
      INSERT INTO kinds.many SELECT i, 'c' || (i % 37), i / 100.0, timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second' FROM generate_series(1, 130000) i`);
  });

  it('reads every type as the server holds it; NULLs stay NULL; other types as their text output (intervals in ISO 8601, as etl sets the session)', async () => {
    const data = path.join(work, 'every');
    const extracted = await extract(data, 'kinds.every');
    expect(extracted.code, extracted.stderr).toBe(0);
    const { rows, columns } = await readParquet(await rawChunk(data, 'kinds.every'));
    expect(columns.map((c) => c.name)).toEqual(['id', 'i2', 'i8', 'f4', 'f8', 'n', 'nfree', 'b', 'd', 'ts', 'tstz', 't', 'vc', 'ch', 'u', 'ip', 'j', 'iv', 'arr', 'Odd "name"']);
    const byId = new Map(rows.map((row) => [Number(row.id), row]));
    expect(byId.get(1)).toEqual({
      id: 1, i2: -32768, i8: 9007199254740993n, f4: 1.1, f8: 0.1, n: -1234.567, nfree: '3.14159265358979323846264338327950288', b: true,
      d: new Date('1999-12-31T00:00:00Z'), ts: new Date('1969-07-20T20:17:40.500Z'), tstz: new Date('2024-03-01T10:00:00Z'), t: 'plain', vc: 'vé', ch: 'ab   ',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ip: '10.1.2.3', j: '{"k": [1, 2]}', iv: 'P1DT2H', arr: '{1,NULL,3}', 'Odd "name"': 'odd',
    });
    expect(Object.entries(byId.get(2)!).filter(([name]) => name !== 'id').every(([, value]) => value === null)).toBe(true);
    expect(byId.get(3)).toMatchObject({ i2: 32767, i8: -42n, f4: -2.5, f8: -1e300, n: 0, nfree: 'NaN', b: false, d: new Date('2000-01-01T00:00:00Z'), ts: new Date('2000-01-01T00:00:00Z'), tstz: new Date('1900-01-01T00:00:00Z'), t: '', vc: '', ch: '     ', ip: '192.168.0.0/16', j: '[]', iv: 'P-3M', arr: '{}' });

    const out = path.join(work, 'every.parquet');
    const transform = await runCli(['transform', 'postgres', 'table', '--data-dir', data, '--out', out]);
    expect(transform.code, transform.stderr).toBe(0);
    const processed = await readParquet(out);
    expect(processed.rows.find((row) => Number(row.id) === 1)).toMatchObject({ i2: -32768, f4: 1.1, n: -1234.567, nfree: '3.14159265358979323846264338327950288', tstz: new Date('2024-03-01T10:00:00Z'), ch: 'ab   ', ip: '10.1.2.3' });
  });

  it('rows longer than the CSV reader first makes room for (2 MiB) are read again once, with room for the longest; nothing else is left in the folder', async () => {
    // A 9 MB row in the middle ("CSV Error on Line" from DuckDB): read again with 32 MiB at once, not 8 MiB first.
    await database().query(`CREATE TABLE kinds.wide (id int PRIMARY KEY, t text);
      INSERT INTO kinds.wide VALUES (1, 'short'), (2, repeat('a"b,' || chr(10), 1500000)), (3, '')`);
    const data = path.join(work, 'wide');
    const extracted = await extract(data, 'kinds.wide');
    expect(extracted.code, extracted.stderr).toBe(0);
    expect(extracted.stderr.match(/reading the rows again.*/g)).toEqual(['reading the rows again with room for 33554432 bytes a row']);
    expect(extracted.stderr).toContain('a row longer than 2097152 bytes as CSV; reading the rows again');
    const { rows } = await readParquet(await rawChunk(data, 'kinds.wide'));
    expect(rows.map((row) => [row.id, row.t === 'short' || row.t === '' ? row.t : (row.t as string).length])).toEqual([[1, 'short'], [2, 7_500_000], [3, '']]);
    expect((rows[1]!.t as string).slice(0, 10)).toBe('a"b,\na"b,\n');
    expect((await readdir(path.join(data, 'raw', 'postgres', 'table', 'kinds.wide'))).sort()).toEqual([expect.stringMatching(/^chunk-.*\.parquet$/), 'manifest.json']);
  });

  it("an unquoted row of 5 MB at the very end, which DuckDB's reader with room for 2 MiB drops without an error, is read again and kept", async () => {
    // Only the count against the server's COPY shows the loss.
    await database().query(`CREATE TABLE kinds.wide_last (id int PRIMARY KEY, t text); INSERT INTO kinds.wide_last VALUES (1, 'short'), (3, ''), (4, repeat('z', 5000000))`);
    const data = path.join(work, 'wide-last');
    const extracted = await extract(data, 'kinds.wide_last');
    expect(extracted.code, extracted.stderr).toBe(0);
    expect(extracted.stderr).toContain('reading the rows again with room for 8388608 bytes a row');
    const { rows } = await readParquet(await rawChunk(data, 'kinds.wide_last'));
    expect(rows.map((row) => [row.id, (row.t as string).length])).toEqual([[1, 5], [3, 0], [4, 5_000_000]]);
    expect((await readdir(path.join(data, 'raw', 'postgres', 'table', 'kinds.wide_last'))).sort()).toEqual([expect.stringMatching(/^chunk-.*\.parquet$/), 'manifest.json']);
  });

  it('a row longer than etl reads (64 MiB as CSV) fails the extract with one line that quotes none of it; nothing is left in the folder', async () => {
    await database().query(`CREATE TABLE kinds.huge (id int PRIMARY KEY, t text); INSERT INTO kinds.huge VALUES (1, 'short'), (2, repeat('z', 70000000))`);
    const data = path.join(work, 'huge');
    const extracted = await extract(data, 'kinds.huge');
    expect(extracted.code).toBe(3);
    const error = extracted.stderr.trim().split('\n').at(-1)!;
    expect(error).toMatch(/^etl: source error: postgres kinds\.huge: a row is .*etl reads in one row \(67108864 bytes as CSV\) \(leave the widest columns out with a view/);
    expect(extracted.stderr).not.toContain('zzzz');
    // The first read saw the row's length: no read again with more room that could not hold it either.
    expect(extracted.stderr).not.toContain('reading the rows again');
    // DuckDB's own temp file (tmp_…) from the last, failed attempt included.
    expect(await readdir(path.join(data, 'raw', 'postgres', 'table', 'kinds.huge'))).toEqual([]);
  });

  it('an empty table is a chunk of no rows that transform reads', async () => {
    const data = path.join(work, 'empty');
    const extracted = await extract(data, 'kinds.empty');
    expect(extracted.code, extracted.stderr).toBe(0);
    expect((await readParquet(await rawChunk(data, 'kinds.empty'))).rows).toEqual([]);
    const transform = await runCliInProcess(['transform', 'postgres', 'table', '--data-dir', data, '--out', path.join(work, 'empty.parquet')]);
    expect(transform.code, transform.stderr).toBe(0);
  });

  it('130,000 rows: two row groups (122,880 rows each at most) and many socket reads, every row once with its values', async () => {
    const data = path.join(work, 'many');
    const extracted = await extract(data, 'kinds.many');
    expect(extracted.code, extracted.stderr).toBe(0);
    const { rows } = await readParquet(await rawChunk(data, 'kinds.many'));
    expect(rows).toHaveLength(130_000);
    rows.forEach((row, i) => {
      const id = i + 1;
      if (Number(row.id) !== id || row.code !== `c${id % 37}` || Math.round(Number(row.amount) * 100) !== id || (row.at as Date).getTime() !== Date.UTC(2020, 0, 1) + id * 1000) {
        throw new Error(`row ${i}: ${JSON.stringify(row, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
    });
  });
});
