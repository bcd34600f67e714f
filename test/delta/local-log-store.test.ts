import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLogStore } from '../../src/delta/log-store.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'etl-local-log-store-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('LocalLogStore', () => {
  // Another writer's commit passes through a private temp file in _delta_log/ that it removes a moment later; a
  // listing that saw its name must not fail when it is gone (seen as exit 1 when two runs raced on one table).
  it('lists _delta_log/ while another writer commits: a temp file gone between readdir and stat is skipped', async () => {
    const store = new LocalLogStore(path.join(root, 'table'));
    await store.createIfAbsent('_delta_log/00000000000000000000.json', Buffer.from('{}\n'));
    let writing = true;
    const writer = (async () => {
      for (let version = 1; version <= 300; version++) {
        await store.createIfAbsent(`_delta_log/${String(version).padStart(20, '0')}.json`, Buffer.from('{}\n'));
      }
      writing = false;
    })();
    let listings = 0;
    try {
      while (writing) {
        await store.list('_delta_log/');
        listings++;
      }
    } finally {
      await writer;
    }
    expect(listings).toBeGreaterThan(0);
    expect((await store.list('_delta_log/')).map((file) => file.path)).toHaveLength(301);
  }, 60_000);
});
