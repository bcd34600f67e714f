import { describe, expect, it } from 'vitest';
import { pairedMeasurer, type NotPaired, type PairedResult } from '../../bench/baseline.js';
import { runProcess, type Run } from '../../bench/measure.js';

const etls = { new: '/checkout/bin/etl.js', old: '/baseline/bin/etl.js' };
const run = (wallMs: number, peakRssMb: number | null = 100): Run => ({ wallMs, peakRssMb, stdout: '', stderr: '' });
/** What runProcess throws for a process that exits non-zero: the command, then its stderr. */
const exited = (stderr: string): Error => new Error(`node ${etls.old} load x.parquet --to postgres://h/db exited with 1:\n${stderr}`);

function setUp() {
  const paired: PairedResult[] = [];
  const notPaired: NotPaired[] = [];
  return { paired, notPaired, measurer: pairedMeasurer(etls, paired, notPaired) };
}

describe('bench --baseline: pairedMeasurer', () => {
  it("runs etl's CLI for both builds, warm-up then alternating pairs, and reports new/old", async () => {
    const { paired, notPaired, measurer } = setUp();
    const calls: string[] = [];
    const result = await measurer.cli('pg-load-100k', 'etl load', { runs: 3, rows: 100_000 }, async (cli) => {
      calls.push(cli === etls.new ? 'new' : 'old');
      return cli === etls.new ? run(1200, 90) : run(1000, 100);
    });
    expect(calls).toEqual(['new', 'old', 'new', 'old', 'old', 'new', 'new', 'old']);
    expect(paired).toEqual([expect.objectContaining({ scenario: 'pg-load-100k', runs: 3, ratio: 1.2, ratioMin: 1.2, ratioMax: 1.2, rssRatio: 0.9, regression: ['time'] })]);
    expect(notPaired).toEqual([]);
    // The scenario's own code gets this checkout's side, as without --baseline.
    expect(result).toMatchObject({ scenario: 'pg-load-100k', runs: 3, medianWallS: 1.2, rowsPerS: 83_333 });
  });

  it("lists a scenario the baseline's CLI fails on as not comparable, and goes on", async () => {
    const { paired, notPaired, measurer } = setUp();
    const result = await measurer.cli('pg-load-100k', 'etl load', { runs: 2 }, async (cli) => {
      if (cli === etls.old) throw exited("\nerror: unknown option '--to'\n");
      return run(500);
    });
    expect(paired).toEqual([]);
    expect(notPaired).toEqual([{ scenario: 'pg-load-100k', reason: "not comparable, the baseline's CLI failed: error: unknown option '--to'" }]);
    expect(result).toMatchObject({ scenario: 'pg-load-100k', medianWallS: 0.5 });
  });

  it('a failure part-way through the pairs is not comparable too', async () => {
    const { notPaired, measurer } = setUp();
    let oldRuns = 0;
    await measurer.cli('load-rerun-s3-256m', 'etl load again', { runs: 3 }, async (cli) => {
      if (cli === etls.old && ++oldRuns === 3) throw new Error('etl load rows.bin --bucket s3://bench/run-1/: expected skipped, got {"uploaded":1}');
      return run(100);
    });
    expect(notPaired).toEqual([{ scenario: 'load-rerun-s3-256m', reason: 'not comparable, the baseline\'s CLI failed: etl load rows.bin --bucket s3://bench/run-1/: expected skipped, got {"uploaded":1}' }]);
  });

  it("still fails the bench when this checkout's CLI fails", async () => {
    const { measurer } = setUp();
    await expect(measurer.cli('help', 'etl --help', { runs: 1 }, async (cli) => (cli === etls.new ? Promise.reject(new Error('new build broken')) : run(50)))).rejects.toThrow('new build broken');
  });

  it('does not run a peer; lists it as not paired', () => {
    const { notPaired, measurer } = setUp();
    expect(measurer.runPeer('psql-copy-in-1m')).toBe(false);
    expect(notPaired).toEqual([{ scenario: 'psql-copy-in-1m', reason: 'a peer, the same for both builds' }]);
  });

  it("a process's failure ends with its own last stderr line, not GNU time's, for the not comparable line", async () => {
    const failing = runProcess(process.execPath, ['-e', "console.error(\"error: unknown option '--to'\"); process.exit(2)"]);
    await expect(failing).rejects.toThrow(/exited with 2:\nerror: unknown option '--to'\n$/);
  });
});
