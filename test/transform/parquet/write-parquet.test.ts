import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row, Table } from '../../../src/core/table.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-write-parquet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 80_000;

describe('writeParquet', () => {
  it('writes wide rows (JSON sources: many text fields) in row groups of at most 8 MB', async () => {
    // 80,000 rows of ~1 KB (a person from randomuser.me is about that): a row group of 122,880 rows would
    // hold all ~80 MB at once.
    const filler = 'x'.repeat(1000);
    async function* rows(): AsyncGenerator<Row> {
      for (let i = 0; i < ROWS; i++) yield { id: i, text: `${i}:${filler}` };
    }
    const table: Table = {
      schema: { name: 'wide', columns: [{ name: 'id', type: 'int64', nullable: false }, { name: 'text', type: 'string', nullable: false }] },
      parts: (async function* () {
        yield { name: 'wide', rows: rows() };
      })(),
    };
    const out = path.join(dir, 'wide.parquet');
    const summary = await writeParquet(table, out);
    expect(summary.rows).toBe(ROWS);
    const { rows: back } = await readParquet(out);
    expect(back).toHaveLength(ROWS);
    expect(back[ROWS - 1]).toEqual({ id: BigInt(ROWS - 1), text: `${ROWS - 1}:${filler}` });
    const groups = (await parquetMetadataAsync(await readFile(out).then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer))).row_groups;
    expect(groups.length).toBeGreaterThanOrEqual(10);
    expect(groups.every((group) => Number(group.num_rows) <= (8 * 1024 * 1024) / 1000)).toBe(true);
  });
});
