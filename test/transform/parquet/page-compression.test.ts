import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SYNC_GZIP_BYTES, compressPage } from '../../../src/transform/parquet/parquet-file.js';

/** Text that repeats loosely, as a page of figures does: zlib's levels 5, 6 and 7 each give other bytes for it. */
function page(bytes: number): Buffer {
  let text = '';
  for (let i = 0; text.length < bytes; i++) text += `area ${(i * 7919) % 1013} deaths ${(i * 104_729) % 997};`;
  return Buffer.from(text.slice(0, bytes));
}

describe('page compression', () => {
  it('compresses a small page at once and a large one on the thread pool, to the same bytes a level-6 gzip gives', async () => {
    for (const bytes of [0, 1000, SYNC_GZIP_BYTES - 1]) {
      const body = page(bytes);
      const compressed = compressPage(body);
      expect(compressed, `${bytes} bytes`).toBeInstanceOf(Buffer);
      expect((compressed as Buffer).equals(gzipSync(body, { level: 6 })), `${bytes} bytes`).toBe(true);
    }
    for (const bytes of [SYNC_GZIP_BYTES, 300_000]) {
      const body = page(bytes);
      const compressed = compressPage(body);
      expect(compressed, `${bytes} bytes`).toBeInstanceOf(Promise);
      const awaited = await compressed;
      expect(awaited.equals(gzipSync(body, { level: 6 })), `${bytes} bytes`).toBe(true);
      expect(gunzipSync(awaited).equals(body)).toBe(true);
    }
  });
});
