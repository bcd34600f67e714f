import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { readSnapshot } from '../../src/delta/replay.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { startCli } from '../helpers/run-cli.js';
import { PAGE, buildOnsSite } from '../run/ons-site.js';
import { snapshotRows, sortRows } from './helpers.js';

/** `--shard i/n` runs of one pipeline write one Delta table together, each committing its own partitions. */
let work: string;
let server: FileServer;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-delta-shards-'));
  server = await startFileServer((await buildOnsSite(work)).files);
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('etl run --format delta --shard i/n', () => {
  it('3 shards started at once (two of them creating the table at the same moment) commit the rows of one unsharded run', async () => {
    const run = (lake: string, dataDir: string, flags: string[]) =>
      startCli(['run', 'ons', '--url', server.url + PAGE, '--data-dir', path.join(work, dataDir), '--format', 'delta', '--partition-by', 'edition', '--bucket', path.join(work, lake) + '/', ...flags]).done;
    const whole = await run('one-lake', 'one', []);
    expect(whole.code, whole.stderr).toBe(0);
    const shards = await Promise.all([0, 1, 2].map((index) => run('sharded-lake', `shard-${index}`, ['--shard', `${index}/3`])));
    for (const result of shards) expect(result.code, result.stderr).toBe(0);
    // 2019 mod 3 = 0; 2015 and 2021 mod 3 = 2; shard 1 has no edition.
    expect(shards[1]!.stdout).toMatch(/transform skipped, load skipped/);
    const sharded = new LocalLogStore(path.join(work, 'sharded-lake', 'monthly-deaths'));
    const snapshot = (await readSnapshot(sharded))!;
    expect(snapshot.version).toBe(1);
    expect(snapshot.txns.size).toBe(2);
    const single = new LocalLogStore(path.join(work, 'one-lake', 'monthly-deaths'));
    expect(sortRows(await snapshotRows(path.join(work, 'sharded-lake', 'monthly-deaths'), snapshot))).toEqual(sortRows(await snapshotRows(path.join(work, 'one-lake', 'monthly-deaths'), (await readSnapshot(single))!)));
  }, 120_000);
});
