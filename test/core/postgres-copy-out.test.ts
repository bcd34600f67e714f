import { createHash } from 'node:crypto';
import pg from 'pg';
import { to } from 'pg-copy-streams';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyOut } from '../../src/core/copy-out.js';
import { describePostgres } from '../helpers/postgres.js';

/** core/copy-out.ts against a real server: the same bytes as pg-copy-streams, errors and notices mid-copy, the connection usable after. */
describePostgres('COPY TO STDOUT through copyOut', (database) => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ host: '127.0.0.1', port: database().port, user: 'postgres', database: database().name, password: database().env.PGPASSWORD });
    await client.connect();
    await database().query(`CREATE TABLE copy_rows AS SELECT i AS id, 'name ' || i AS name, CASE WHEN i % 7 = 0 THEN NULL ELSE i / 3.0 END AS ratio,
      CASE WHEN i % 11 = 0 THEN E'with "quotes", a comma\\nand a newline' ELSE repeat('x', i % 300) END AS note FROM generate_series(1, 200000) i`);
    await database().query(`CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN IF i % 5000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$`);
  });
  afterAll(async () => {
    await client?.end();
  });

  const read = async (stream: NodeJS.ReadableStream): Promise<{ bytes: number; md5: string }> => {
    const hash = createHash('md5');
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      hash.update(chunk);
    }
    return { bytes, md5: hash.digest('hex') };
  };

  it('yields exactly the bytes pg-copy-streams yields (200k rows, many socket reads, headers split across them), then the connection runs the next query', async () => {
    const sql = 'COPY (SELECT * FROM copy_rows ORDER BY id) TO STDOUT (FORMAT csv)';
    const ours = await read(client.query(copyOut(sql)));
    const theirs = await read(client.query(to(sql)));
    expect(ours.bytes).toBeGreaterThan(10_000_000);
    expect(ours).toEqual(theirs);
    expect((await client.query('SELECT 42 AS answer')).rows).toEqual([{ answer: 42 }]);
  });

  it('skips notices the server sends between rows', async () => {
    const sql = 'COPY (SELECT noisy(id), name FROM copy_rows ORDER BY id) TO STDOUT (FORMAT csv)';
    const ours = await read(client.query(copyOut(sql)));
    const theirs = await read(client.query(to(sql)));
    expect(ours).toEqual(theirs);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a reader that stops early (destroys the stream) leaves the connection usable: the rest is read and dropped', async () => {
    const stream = client.query(copyOut('COPY (SELECT * FROM copy_rows ORDER BY id) TO STDOUT (FORMAT csv)'));
    for await (const chunk of stream) {
      expect(chunk.length).toBeGreaterThan(0);
      stream.destroy(new Error('the consumer failed'));
      break;
    }
    expect((await client.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  }, 20_000);

  it('knows the longest row it carried, the rows it dropped after a reader stopped early included', async () => {
    const stream = client.query(copyOut(`COPY (SELECT i, repeat('y', CASE WHEN i = 150000 THEN 1000000 ELSE 10 END) FROM generate_series(1, 200000) i) TO STDOUT (FORMAT csv)`));
    for await (const chunk of stream) {
      expect(chunk.length).toBeGreaterThan(0);
      stream.destroy(new Error('the consumer failed'));
      break;
    }
    // The next query runs once the rest has been read.
    await client.query('SELECT 1');
    expect(stream.longestRowBytes).toBe('150000,'.length + 1_000_000 + '\n'.length);
  }, 20_000);

  it("fails with the server's error when a row fails mid-copy, after rows went out, and leaves the connection usable", async () => {
    const stream = client.query(copyOut('COPY (SELECT id, 1 / (id - 150000) AS boom FROM copy_rows ORDER BY id) TO STDOUT (FORMAT csv)'));
    await expect(read(stream)).rejects.toThrow(/division by zero/);
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});
