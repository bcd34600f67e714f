import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/core/log.js';
import type { LocalFile } from '../../src/core/sink.js';
import { createSink, parseDestination } from '../../src/load/index.js';
import { contentTypeOf, hashLocalFile, listInputFiles } from '../../src/load/input-files.js';
import { describeSummary, failIfAnyFailed, loadFiles, type LoadRequest, type LoadSummary } from '../../src/load/load-files.js';
import { DEFAULT_KEY_TEMPLATE } from '../../src/load/object-key.js';
import { UploadError } from '../../src/load/upload-error.js';
import { gcsDestination, localDestination, s3Destination, type DestinationFactory, type DestinationUnderTest } from './destinations.js';
import { isUploadBody } from './servers/fault-proxy.js';

/**
 * The load orchestrator and each sink called in-process (as `etl load` calls them), against the same real local
 * stores as the CLI contract suite: closer to the code, so a broken skip decision or checksum check is caught here
 * too, and visible to mutation testing (which cannot see inside the CLI's child process).
 */
const DESTINATIONS: DestinationFactory[] = [localDestination, s3Destination, gcsDestination];

let workDir: string;
let caseNumber = 0;
beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'etl-load-files-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function freshCase(files: Record<string, string>): Promise<{ dir: string; prefix: string }> {
  caseNumber++;
  const dir = path.join(workDir, `case-${caseNumber}`);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return { dir, prefix: `files-${caseNumber}/` };
}

function captureLog(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const stream = { write: (text: string) => lines.push(text) } as unknown as NodeJS.WritableStream;
  return { lines, log: createLogger({ stream, interactive: false }) };
}

const isRefused = (request: { fault?: string }): boolean => request.fault === 'respond';

const flipped = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

for (const factory of DESTINATIONS) {
  describe(`loadFiles and the ${factory.name} sink`, () => {
    if (factory.unavailable) {
      it.skip(`skipped: ${factory.unavailable}`, () => {});
      return;
    }
    let destination: DestinationUnderTest;
    let endpoint: string | undefined;
    const savedEnv: Record<string, string | undefined> = {};

    beforeAll(async () => {
      destination = await factory.start();
      const at = destination.flags.indexOf('--endpoint');
      endpoint = at >= 0 ? destination.flags[at + 1] : undefined;
      // What a user exports for this store (credentials, region); put back afterwards for the next destination.
      for (const [name, value] of Object.entries(destination.env)) {
        savedEnv[name] = process.env[name];
        process.env[name] = value;
      }
    });
    afterAll(async () => {
      for (const [name, value] of Object.entries(savedEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await destination?.stop();
    });

    const load = (inputs: string[], bucket: string, options: Partial<LoadRequest> = {}) => {
      const { lines, log } = captureLog();
      const request: LoadRequest = {
        inputs,
        bucket,
        keyTemplate: DEFAULT_KEY_TEMPLATE,
        sink: { endpoint, region: undefined },
        concurrency: 2,
        dryRun: false,
        force: false,
        log,
        ...options,
      };
      return loadFiles(request).then((summary) => ({ summary, lines }));
    };
    const reasons = (summary: Awaited<ReturnType<typeof loadFiles>>) =>
      Object.fromEntries(summary.files.map((file) => [path.basename(file.path), `${file.action}: ${file.reason}`]));

    it('uploads new files, skips the same bytes, uploads a same-size change, and --force uploads all', async () => {
      const { dir, prefix } = await freshCase({ 'a.csv': 'one', 'sub/b.csv': 'two' });
      const bucket = destination.bucket(prefix);

      const first = await load([dir], bucket);
      expect(reasons(first.summary)).toEqual({ 'a.csv': 'uploaded: new', 'b.csv': 'uploaded: new' });
      expect(first.summary).toMatchObject({ uploaded: 2, skipped: 0, failed: 0, bytesUploaded: 6 });
      expect(first.lines.join('')).toMatch(/uploaded .*b\.csv -> \S+sub\/b\.csv \(3 B, /);

      const again = await load([dir], bucket);
      expect(reasons(again.summary)).toEqual({ 'a.csv': 'skipped: same sha256', 'b.csv': 'skipped: same sha256' });
      expect(again.summary).toMatchObject({ uploaded: 0, skipped: 2, bytesUploaded: 0 });

      await writeFile(path.join(dir, 'sub/b.csv'), 'TWO');
      const sameSize = await load([dir], bucket);
      expect(reasons(sameSize.summary)).toEqual({ 'a.csv': 'skipped: same sha256', 'b.csv': 'uploaded: content changed' });
      expect((await destination.read(prefix, 'sub/b.csv'))?.body.toString()).toBe('TWO');

      const forced = await load([dir], bucket, { force: true });
      expect(reasons(forced.summary)).toEqual({ 'a.csv': 'uploaded: --force', 'b.csv': 'uploaded: --force' });
    });

    it('a dry run names what would happen and writes nothing (a bucket is not even asked)', async () => {
      const { dir, prefix } = await freshCase({ 'same.csv': 'same', 'new.csv': 'new!' });
      const bucket = destination.bucket(prefix);
      await load([path.join(dir, 'same.csv')], bucket);

      const { summary } = await load([dir], bucket, { dryRun: true });
      if (factory.name === 'local') {
        expect(reasons(summary)).toEqual({ 'new.csv': 'would-upload: new', 'same.csv': 'would-skip: same sha256' });
        expect(summary).toMatchObject({ dryRun: true, uploaded: 1, skipped: 1, failed: 0, bytesUploaded: 0 });
      } else {
        // A dry run sends no request to a bucket, so it cannot tell what is there.
        expect(summary.files.map((file) => `${file.action}: ${file.reason}`)).toEqual(Array(2).fill(expect.stringMatching(/^would-upload: not compared: a dry run sends no request to /)));
        expect(summary).toMatchObject({ dryRun: true, uploaded: 2, skipped: 0, failed: 0, bytesUploaded: 0 });
      }
      expect(await destination.read(prefix, 'new.csv')).toBeNull();
    });

    it('a destination that cannot be written fails the first file and leaves the others untried', async () => {
      const { dir } = await freshCase({ 'a.csv': 'a', 'b.csv': 'b', 'c.csv': 'c' });
      const { summary } = await load([dir], destination.missingBucket, { concurrency: 1 });
      expect(summary).toMatchObject({ uploaded: 0, skipped: 0, failed: 3 });
      expect(summary.files.map((file) => file.reason.startsWith('not tried'))).toEqual([false, true, true]);
      expect(() => failIfAnyFailed(summary)).toThrow(/^3 of 3 files failed to upload to .*; 2 not tried after that$/);
    });

    it.skipIf(factory.name === 'local')('throttling that outlasts the SDK\'s own retries is retried whole and said so; a rejected file is not retried', async () => {
      const { dir, prefix } = await freshCase({ 'deaths.parquet': 'x'.repeat(64 * 1024) });
      const bucket = destination.bucket(prefix);
      // Enough 503s to use up the SDK's own attempts (S3: 3; GCS does not retry an unconditional upload): etl's second attempt goes through.
      const remove = destination.proxy!.addFault({ matches: isUploadBody, action: { kind: 'respond', status: 503, body: '' }, times: factory.name === 's3' ? 3 : 1 });
      try {
        const { summary, lines } = await load([dir], bucket);
        expect(summary).toMatchObject({ uploaded: 1, failed: 0 });
        expect(lines.join('')).toMatch(/warn: [\s\S]*; attempt 2\/3 in \d+\.\d s/);
      } finally {
        remove();
      }
      const uploadsBefore = destination.proxy!.requests.filter(isRefused).length;
      const refuse = destination.proxy!.addFault({ matches: isUploadBody, action: { kind: 'respond', status: 400, body: '' }, times: Infinity });
      try {
        await writeFile(path.join(dir, 'deaths.parquet'), 'y'.repeat(64 * 1024));
        const { summary, lines } = await load([dir], bucket);
        expect(summary).toMatchObject({ uploaded: 0, failed: 1 });
        expect(lines.join('')).not.toMatch(/attempt 2\/3/);
        expect(destination.proxy!.requests.filter(isRefused).length - uploadsBefore).toBe(1);
      } finally {
        refuse();
      }
    });

    it('upload checks what the store holds against the local digests: a mismatch is an error and leaves no object', async () => {
      const { dir, prefix } = await freshCase({ 'deaths.parquet': 'PAR1 some bytes' });
      const sink = await createSink(parseDestination(destination.bucket(prefix)), { endpoint, region: undefined });
      const local = await hashLocalFile(path.join(dir, 'deaths.parquet'));
      const metadata = { sha256: local.sha256, source: 'deaths.parquet', etl_version: 'test' };
      const upload = (file: LocalFile) => sink.upload({ file, key: prefix + 'deaths.parquet', contentType: 'application/octet-stream', metadata, onProgress: () => {} });

      expect(await sink.stat(prefix + 'deaths.parquet')).toBeNull();
      // What a store computes (md5, ETag) is what S3 and GCS compare; a copied file is hashed again (sha256).
      const damaged = factory.name === 'local' ? { ...local, sha256: flipped(local.sha256) } : { ...local, md5: flipped(local.md5) };
      const error = await upload(damaged).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(UploadError);
      expect((error as UploadError).recovery).toBe(factory.name === 'local' ? 'file' : 'retry');
      expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();

      if (factory.name !== 'local') {
        const wrongSize = await upload({ ...local, size: local.size + 1 }).then(() => undefined, (caught: unknown) => caught);
        expect((wrongSize as UploadError).message).toMatch(/does not match .* after upload/);
        expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();
      }

      expect(await upload(local)).toMatchObject({ parts: 1 });
      expect(await sink.stat(prefix + 'deaths.parquet')).toEqual({ size: local.size, sha256: createHash('sha256').update('PAR1 some bytes').digest('hex') });
    });
  });
}

describe('what loadFiles reads and says', () => {
  it('walks directories in name order, leaving dot files, dot folders and etl temp files behind', async () => {
    const { dir } = await freshCase({ 'b.csv': 'b', 'sub/a.parquet': 'a', '.hidden': 'x', '.git/config': 'x', 'sub/.etl-tmp-0a1b2c-a.parquet': 'x' });
    const files = await listInputFiles([dir, path.join(dir, '.hidden')]);
    expect(files.map((file) => file.name)).toEqual(['.hidden', 'b.csv', 'sub/a.parquet']);
    expect(files.find((file) => file.name === 'sub/a.parquet')?.path).toBe(path.join(dir, 'sub', 'a.parquet'));
  });

  it.each([
    ['deaths.parquet', 'application/vnd.apache.parquet'],
    ['DEATHS.PARQUET', 'application/vnd.apache.parquet'],
    ['a.csv', 'text/csv'],
    ['book.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['notes', 'application/octet-stream'],
    ['x.unknown', 'application/octet-stream'],
  ])('content type of %s is %s', (name, expected) => {
    expect(contentTypeOf(name)).toBe(expected);
  });

  it('the one summary line counts files and bytes in readable units', () => {
    const summary = (fields: Partial<LoadSummary>): LoadSummary => ({ destination: 's3://b/ons/', dryRun: false, files: [], uploaded: 0, skipped: 0, failed: 0, bytesUploaded: 0, seconds: 1.25, ...fields });
    expect(describeSummary(summary({ uploaded: 2, skipped: 1, bytesUploaded: 1023 }))).toBe('2 uploaded, 1 skipped (already there), 0 failed; 1023 B to s3://b/ons/ in 1.3 s');
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 1024 }))).toBe('1 uploaded, 0 skipped (already there), 0 failed; 1.0 KiB to s3://b/ons/ in 1.3 s');
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 5 * 1024 ** 3 + 1 }))).toMatch(/; 5\.0 GiB to /);
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 3 * 1024 ** 5 }))).toMatch(/; 3072\.0 TiB to /);
    const files = [{ path: 'a', key: 'a', uri: 's3://b/ons/a', action: 'would-upload' as const, reason: 'new', bytes: 1536 }];
    expect(describeSummary(summary({ dryRun: true, files, uploaded: 1, skipped: 2 }))).toBe('dry run: 1 would upload (1.5 KiB), 2 would skip, 0 failed; nothing sent to s3://b/ons/ in 1.3 s');
  });
});
