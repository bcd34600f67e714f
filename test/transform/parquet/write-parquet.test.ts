import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
  it('writes wide rows (JSON sources: many text fields) without running DuckDB out of memory', async () => {
    // 80,000 rows of ~1 KB (a person from randomuser.me is about that): a row group of DuckDB's default
    // 122,880 rows would hold all ~80 MB at once, over the writer's 64 MB DuckDB memory limit.
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
  });
});
