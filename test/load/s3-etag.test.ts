import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { multipartEtagOf } from '../../src/load/s3.js';

// s3rver answers multipart uploads with a plain md5, so the AWS/MinIO form is checked here against its definition.
it('a multipart ETag is the md5 of the part md5s followed by the part count', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'etl-etag-'));
  try {
    const partSize = 5 * 1024 * 1024;
    const content = randomBytes(2 * partSize + 1234);
    await writeFile(path.join(dir, 'f.bin'), content);
    const partMd5s = [0, 1, 2].map((index) => createHash('md5').update(content.subarray(index * partSize, (index + 1) * partSize)).digest());
    const expected = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3`;
    expect(await multipartEtagOf(path.join(dir, 'f.bin'), partSize)).toBe(expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
