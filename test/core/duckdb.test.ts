import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDbStatements } from '../../src/core/duckdb.js';

/** The bindings-only DuckDB client of the Postgres load and extract, against DuckDB itself. */
describe('openDuckDbStatements', () => {
  let duck: Awaited<ReturnType<typeof openDuckDbStatements>>;
  beforeAll(async () => {
    duck = await openDuckDbStatements();
  });
  afterAll(() => duck.close());

  it('reads text held inside the value (up to 12 bytes) and behind a pointer, empty and non-ASCII text too', async () => {
    const rows = await duck.readText(`SELECT * FROM (VALUES ('', 'twelve bytes'), ('thirteen byte', 'TIMESTAMP WITH TIME ZONE'), ('café ☕', repeat('é', 5000))) AS t(a, b)`);
    expect(rows).toEqual([
      ['', 'twelve bytes'],
      ['thirteen byte', 'TIMESTAMP WITH TIME ZONE'],
      ['café ☕', 'é'.repeat(5000)],
    ]);
  });

  it('reads every row of an answer of several chunks, in order', async () => {
    const rows = await duck.readText('SELECT i::VARCHAR, (i * 7)::VARCHAR || repeat(\'-\', i % 20) FROM range(5000) t(i) ORDER BY i');
    expect(rows).toHaveLength(5000);
    rows.forEach(([i, text], index) => {
      if (i !== String(index) || text !== `${index * 7}${'-'.repeat(index % 20)}`) throw new Error(`row ${index}: ${i} ${text}`);
    });
  });

  it('refuses an answer with a column that is not text, naming it; runs statements and says how many rows they changed', async () => {
    await expect(duck.readText('SELECT 1 AS n')).rejects.toThrow(/column n is not VARCHAR/);
    await duck.run('CREATE TABLE t (x INTEGER)');
    expect((await duck.run('INSERT INTO t SELECT * FROM range(3)')).rowsChanged).toBe(3);
    expect(await duck.readText("SELECT current_setting('TimeZone')")).toEqual([['UTC']]);
  });
});
