import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { quoteIdentifier } from '../../../src/transform/parquet/duckdb-sql.js';
import { HIVE_NULL, escapePartitionValue, parsePartitionFolderName, partitionFolderName, unescapePartitionValue } from '../../../src/transform/parquet/hive-partition.js';
import { partitionParquet } from '../../../src/transform/parquet/partition-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

/** Values a partition column may hold that a naive folder name gets wrong: each must get its own folder and read back exactly. */
const HOSTILE: Array<string | null> = [
  null, HIVE_NULL, '', 'a/b', 'a%2Fb', '100%', 'x y', "it's", 'say "hi"', 'nul\0byte', 'É', 'São Paulo', '..', '.', 'k=v', 'back\\slash', 'tab\t', 'line\nfeed', 'UPPER', 'upper', '2024-01-01', '+1', '%',
];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-partition-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A parquet file of (id, k), written by DuckDB with every value bound. */
async function tableFile(name: string, values: ReadonlyArray<string | null>): Promise<string> {
  const file = path.join(work, name);
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    await connection.run('CREATE TABLE t (id INTEGER, k VARCHAR)');
    for (const [id, value] of values.entries()) await connection.run('INSERT INTO t VALUES ($1, $2::VARCHAR)', [id, value]);
    await connection.run('COPY t TO $1 (FORMAT parquet)', [file]);
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
  return file;
}

/** (id, k) as a Hive-aware reader sees the folder: DuckDB with hive_partitioning, values kept as text. */
async function readBack(dir: string): Promise<Array<[number, string | null]>> {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    const rows = await connection.runAndReadAll('SELECT id, k FROM read_parquet($1, hive_partitioning = true, hive_types_autocast = false) ORDER BY id', [path.join(dir, '*', '*.parquet')]);
    return rows.getRowsJS().map(([id, k]) => [Number(id), k as string | null]);
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
}

/** Every name below `dir` with its bytes' sha256 and mtime: what a failed run must leave as it was. */
async function snapshot(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true });
  return Promise.all(names.sort().map(async (name) => {
    const info = await stat(path.join(dir, name));
    return info.isDirectory() ? `${name}/` : `${name} ${createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex')} ${info.mtimeMs}`;
  }));
}

describe('partition folder names', () => {
  it('escape every value to one folder-name segment that decodes back to it; distinct values give distinct names', () => {
    const names = HOSTILE.map((value) => escapePartitionValue(value));
    expect(new Set(names).size).toBe(HOSTILE.length);
    for (const [index, value] of HOSTILE.entries()) {
      expect(names[index]).toMatch(/^[A-Za-z0-9._%-]*$/);
      expect(unescapePartitionValue(names[index]!)).toBe(value);
    }
    expect(escapePartitionValue(null)).toBe('__HIVE_DEFAULT_PARTITION__');
    expect(escapePartitionValue(HIVE_NULL)).toBe('%5F_HIVE_DEFAULT_PARTITION__');
    expect(escapePartitionValue('a/b c%')).toBe('a%2Fb%20c%25');
    expect(escapePartitionValue('São')).toBe('S%C3%A3o');
    expect(escapePartitionValue('2024-01-01')).toBe('2024-01-01');
  });

  it('round-trips thousands of generated strings of every character class, and never maps two to one name', () => {
    const alphabet = ['a', 'Z', '0', '.', '_', '-', '/', '\\', '%', '=', ' ', '"', "'", '\0', '\n', '\u007f', 'é', 'ß', '€', '😀', '%2F', '%5F', '__HIVE_DEFAULT_PARTITION__'];
    const seen = new Map<string, string>();
    for (let n = 0; n < 5000; n++) {
      // Deterministic: the bytes of sha256(n) pick a length (0-5) and the pieces.
      const bytes = createHash('sha256').update(String(n)).digest();
      const value = Array.from({ length: bytes[0]! % 6 }, (_, i) => alphabet[bytes[i + 1]! % alphabet.length]).join('');
      const name = escapePartitionValue(value);
      expect(unescapePartitionValue(name)).toBe(value);
      if (seen.has(name)) expect(seen.get(name)).toBe(value);
      seen.set(name, value);
    }
  });

  it('a name longer than a folder name may be is refused as a data error; the column is escaped too', () => {
    expect(partitionFolderName('geo name', 'a/b')).toBe('geo%20name=a%2Fb');
    expect(parsePartitionFolderName('geo%20name=a%2Fb')).toEqual({ column: 'geo name', value: 'a/b' });
    expect(parsePartitionFolderName(`k=${HIVE_NULL}`)).toEqual({ column: 'k', value: null });
    expect(unescapePartitionValue('100%zz%')).toBe('100%zz%');
    expect(partitionFolderName('k', 'x'.repeat(253))).toHaveLength(255);
    expect(() => partitionFolderName('k', 'x'.repeat(254))).toThrow(DataError);
    expect(() => partitionFolderName('k', 'é'.repeat(50))).toThrow(/^partition by "k": the value "é{40}…" \(50 characters\) makes a folder name of 302 bytes, more than the 255 a file system allows$/);
  });
});

describe('quoteIdentifier: the one way a name enters DuckDB SQL', () => {
  it('quotes any column name DuckDB can hold, and refuses a NUL', async () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(() => quoteIdentifier('a\0b')).toThrow(DataError);
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    try {
      for (const name of ['a"b', "it's", 'x); DROP TABLE t; --', 'sp ace', '"', '']) {
        if (name === '') continue; // DuckDB has no empty column names
        const rows = await connection.runAndReadAll(`SELECT 42 AS ${quoteIdentifier(name)}`);
        expect(rows.columnNames()).toEqual([name]);
      }
    } finally {
      connection.closeSync();
      duck.closeSync();
    }
  });
});

describe('partitionParquet, in-process on values that break naive folder names and pasted SQL', () => {
  it('gives each value its own folder (no nesting), every row reads back with its exact value, and a second run rewrites nothing', async () => {
    const input = await tableFile('hostile.parquet', HOSTILE);
    const dir = path.join(work, 'lake');
    const first = await partitionParquet(input, 'k', dir);
    const folders = (await readdir(dir)).filter((name) => name !== '_manifest.json').sort();
    expect(folders).toEqual(HOSTILE.map((value) => partitionFolderName('k', value)).sort());
    for (const folder of folders) expect(await readdir(path.join(dir, folder))).toEqual(['part-0.parquet']);
    expect(first.written).toHaveLength(HOSTILE.length);

    expect(await readBack(dir)).toEqual(HOSTILE.map((value, id) => [id, value]));
    // An independent reader sees the rows of each folder, without the partition column.
    for (const folder of folders) {
      const { columns, rows } = await readParquet(path.join(dir, folder, 'part-0.parquet'));
      expect(columns.map((c) => c.name)).toEqual(['id']);
      const value = parsePartitionFolderName(folder)!.value;
      expect(rows.map((row) => row.id)).toEqual([HOSTILE.indexOf(value)]);
    }

    const before = await snapshot(dir);
    const again = await partitionParquet(input, 'k', dir);
    expect(again).toMatchObject({ written: [], removed: [] });
    expect((await snapshot(dir)).filter((line) => !line.startsWith('_manifest.json'))).toEqual(before.filter((line) => !line.startsWith('_manifest.json')));
    expect(await readBack(dir)).toEqual(HOSTILE.map((value, id) => [id, value]));
  });

  it('a value too long for a folder name is refused before anything is written: the folder stays exactly as it was', async () => {
    const dir = path.join(work, 'long');
    await partitionParquet(await tableFile('short.parquet', ['a', 'b/c']), 'k', dir);
    const before = await snapshot(dir);
    // Sorted after 'a' and 'b/c', so a writer going in order would already have replaced those two.
    const changed = await tableFile('long.parquet', ['a', 'b/c', 'b/c', 'z'.repeat(300)]);
    const failed = partitionParquet(changed, 'k', dir);
    await expect(failed).rejects.toBeInstanceOf(DataError);
    await expect(failed).rejects.toThrow(/makes a folder name of 3\d\d bytes, more than the 255/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('a partition no longer in the data is removed and reported by its decoded value', async () => {
    const dir = path.join(work, 'removed');
    await partitionParquet(await tableFile('before.parquet', ['a/b', null, '100%']), 'k', dir);
    const after = await partitionParquet(await tableFile('after.parquet', ['100%']), 'k', dir);
    expect([...after.removed].sort()).toEqual(['a/b', null].sort());
    expect(await readBack(dir)).toEqual([[0, '100%']]);
  });
});

describe('partitionParquet: the manifest, refusals and leftovers', () => {
  const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

  it('_manifest.json lists each partition file with its rows, bytes and sha256, the total rows, and the schema without the partition column', async () => {
    const file = await tableFile('manifest.parquet', ['a', 'a', 'b', null]);
    const dir = path.join(work, 'manifest');
    const { manifest } = await partitionParquet(file, 'k', dir);
    expect(manifest.partition_by).toBe('k');
    expect(manifest.rows).toBe(4);
    expect(manifest.schema).toEqual([{ name: 'id', type: 'INTEGER' }]);
    expect(manifest.files.map((f) => [f.path, f.rows])).toEqual([
      ['k=a/part-0.parquet', 2],
      ['k=b/part-0.parquet', 1],
      [`k=${HIVE_NULL}/part-0.parquet`, 1],
    ]);
    for (const entry of manifest.files) {
      const written = path.join(dir, entry.path);
      expect(entry.bytes).toBe((await stat(written)).size);
      expect(entry.sha256).toBe(await sha256(written));
    }
    const onDisk = await readFile(path.join(dir, '_manifest.json'), 'utf8');
    expect(onDisk).toBe(JSON.stringify(manifest, null, 2) + '\n');
  });

  it('a shard writes its own manifest and leaves the partitions it does not hold', async () => {
    const dir = path.join(work, 'sharded');
    await partitionParquet(await tableFile('shard-a.parquet', ['a']), 'k', dir, { index: 0, count: 2 });
    await partitionParquet(await tableFile('shard-b.parquet', ['b']), 'k', dir, { index: 1, count: 2 });
    expect((await readdir(dir)).sort()).toEqual(['_manifest.shard-0-of-2.json', '_manifest.shard-1-of-2.json', 'k=a', 'k=b']);
    // Without a shard, the partition no longer in the data goes.
    await partitionParquet(await tableFile('whole-b.parquet', ['b']), 'k', dir);
    expect((await readdir(dir)).sort()).toEqual(['_manifest.json', '_manifest.shard-0-of-2.json', '_manifest.shard-1-of-2.json', 'k=b']);
  });

  it('a column the table lacks is a usage error listing the columns; nothing is written', async () => {
    const file = await tableFile('no-column.parquet', ['a']);
    const dir = path.join(work, 'no-column');
    const error = await partitionParquet(file, 'kind', dir).then(
      () => expect.fail('accepted'),
      (e: unknown) => e as Error & { hint?: string },
    );
    expect(error.message).toBe('--partition-by kind: the table has no such column');
    expect(error.hint).toBe('choose one of: id, k');
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('a temp file a killed run left in the folder is removed; other files and folders of other columns stay', async () => {
    const dir = path.join(work, 'leftovers');
    await partitionParquet(await tableFile('leftovers.parquet', ['a']), 'k', dir);
    const { tempPathFor } = await import('../../../src/core/atomic-file.js');
    const { writeFile, mkdir } = await import('node:fs/promises');
    const temp = tempPathFor(path.join(dir, '_manifest.json'));
    await writeFile(temp, 'half');
    await mkdir(path.join(dir, 'other=x'));
    await writeFile(path.join(dir, 'notes.txt'), 'mine');
    await partitionParquet(await tableFile('leftovers-2.parquet', ['a']), 'k', dir);
    expect((await readdir(dir)).sort()).toEqual(['_manifest.json', 'k=a', 'notes.txt', 'other=x']);
  });

  it('the refusal of a long name shows a value of up to 40 characters whole, a longer one cut, and null as null', () => {
    const column = 'c'.repeat(200);
    expect(() => partitionFolderName(column, '/'.repeat(40))).toThrow(`partition by "${column}": the value "${'/'.repeat(40)}" (40 characters) makes a folder name of 321 bytes, more than the 255 a file system allows`);
    expect(() => partitionFolderName(column, '/'.repeat(41))).toThrow(`the value "${'/'.repeat(40)}…" (41 characters) makes a folder name of 324 bytes`);
    expect(() => partitionFolderName('c'.repeat(240), null)).toThrow(/the value null makes a folder name of 267 bytes/);
    let hint: string | undefined;
    try {
      partitionFolderName(column, '/'.repeat(40));
    } catch (error) {
      hint = (error as DataError).hint;
    }
    expect(hint).toBe('partition by a column with shorter values; nothing was written');
  });

  it('folder names: every byte outside letters, digits and ._- is %XX in capitals; only a well-formed %XX decodes; a name without a column is none of ours', () => {
    expect(escapePartitionValue('a b/é')).toBe('a%20b%2F%C3%A9');
    expect(escapePartitionValue('aZ09._-')).toBe('aZ09._-');
    expect(escapePartitionValue('ab:')).toBe('ab%3A');
    expect(unescapePartitionValue('%c3%a9')).toBe('é');
    expect(unescapePartitionValue('%2G%2')).toBe('%2G%2');
    expect(unescapePartitionValue('a%2Fb%')).toBe('a/b%');
    expect(unescapePartitionValue('%412')).toBe('A2');
    expect(parsePartitionFolderName('=x')).toBeUndefined();
    expect(parsePartitionFolderName('plain')).toBeUndefined();
    expect(parsePartitionFolderName('k=')).toEqual({ column: 'k', value: '' });
  });
});
