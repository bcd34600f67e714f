import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcsDestination, localDestination, s3Destination, type DestinationFactory, type DestinationUnderTest } from './destinations.js';
import { isUploadBody, type Fault, type FaultAction } from './servers/fault-proxy.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { loadResultOf } from './load-result.js';
import { VERSION } from '../../src/version.js';

/**
 * One contract, three destinations: `etl load` with the flags and environment a user would set, against a local
 * directory, a real S3-compatible server (s3rver) and the Cloud Storage emulator from firebase-tools, each on a random
 * loopback port. Per destination, a first upload and a destination that cannot be written run the built CLI as a
 * process (its environment, exit code and error line); the other cases run the CLI's `main` in this process
 * (test/helpers/cli-in-process.ts): the same code path without a process start and SDK load each. Rejected
 * credentials too, though no secret may be printed: each in-process session starts with none registered.
 */
const DESTINATIONS: DestinationFactory[] = [localDestination, s3Destination, gcsDestination];

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

let workDir: string;
let testNumber = 0;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'etl-load-contract-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A fresh input directory and object prefix per test, so tests do not see each other's objects. */
async function freshCase(files: Record<string, Buffer | string>): Promise<{ dir: string; prefix: string }> {
  testNumber++;
  const dir = path.join(workDir, `case-${testNumber}`);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return { dir, prefix: `run-${testNumber}/` };
}

const uploadFault = (action: FaultAction, times: number): Fault => ({ matches: isUploadBody, action, times });

for (const factory of DESTINATIONS) {
  describe(`etl load to ${factory.name}`, () => {
    if (factory.unavailable) {
      if (process.env.CI) throw new Error(`${factory.name} must be tested in CI: ${factory.unavailable}`);
      it.skip(`skipped: ${factory.unavailable}`, () => {});
      return;
    }
    let destination: DestinationUnderTest;
    const loadCli = (args: string[]) => runCli(['--json', 'load', ...args, ...destination.flags], { env: destination.env });
    const load = (args: string[]) => runCliInProcess(['--json', 'load', ...args, ...destination.flags], { env: destination.env });

    beforeAll(async () => {
      destination = await factory.start();
    });
    afterAll(async () => {
      await destination?.stop();
    });

    it('uploads a directory with nested paths, content type and metadata; dot files stay behind', async () => {
      const { dir, prefix } = await freshCase({ 'deaths.parquet': 'PAR1 data', 'ons/monthly/2019.csv': 'a,b\n1,2\n', 'ons/weekly/2020/x.json': '{"a":1}', 'empty.csv': '', '.DS_Store': 'junk' });
      const run = await loadCli([dir, '--bucket', destination.bucket(prefix)]);
      expect(run.code, run.stderr).toBe(0);
      expect(loadResultOf(run)).toMatchObject({ uploaded: 4, skipped: 0, failed: 0, bytes_uploaded: 9 + 8 + 7 });
      expect((await destination.read(prefix, 'empty.csv'))?.body.length).toBe(0);

      const csv = await destination.read(prefix, 'ons/monthly/2019.csv');
      expect(csv?.body.toString()).toBe('a,b\n1,2\n');
      expect((await destination.read(prefix, 'ons/weekly/2020/x.json'))?.body.toString()).toBe('{"a":1}');
      expect(await destination.read(prefix, '.DS_Store')).toBeNull();
      const parquet = await destination.read(prefix, 'deaths.parquet');
      expect(parquet?.body.toString()).toBe('PAR1 data');
      if (factory.name !== 'local') {
        expect(parquet?.contentType).toBe('application/vnd.apache.parquet');
        expect(parquet?.metadata).toMatchObject({ sha256: sha256('PAR1 data'), etl_version: VERSION });
        expect(parquet?.metadata.source).toMatch(/deaths\.parquet$/);
      }
    });

    it('a re-run skips every file and sends no bytes; a changed file is uploaded again, also at the same size', async () => {
      const { dir, prefix } = await freshCase({ 'a.csv': 'one', 'sub/b.csv': 'two', 'sub/c.csv': 'three' });
      const bucket = destination.bucket(prefix);
      expect((await load([dir, '--bucket', bucket])).code).toBe(0);

      const requestsBefore = destination.proxy?.requests.length ?? 0;
      const rerun = await load([dir, '--bucket', bucket]);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(loadResultOf(rerun)).toMatchObject({ uploaded: 0, skipped: 3, failed: 0, bytes_uploaded: 0 });
      expect(loadResultOf(rerun).files.map((file) => file.reason)).toEqual(['same sha256', 'same sha256', 'same sha256']);
      expect(destination.proxy?.requests.slice(requestsBefore).filter((request) => request.method !== 'GET' && request.method !== 'HEAD') ?? []).toEqual([]);
      const plain = await runCliInProcess(['load', dir, '--bucket', bucket, ...destination.flags], { env: destination.env });
      expect(plain.stdout).toMatch(/^0 uploaded, 3 skipped \(already there\), 0 failed; 0 B to /);

      // Same size, different bytes: only the sha256 can tell them apart.
      await writeFile(path.join(dir, 'sub/b.csv'), 'TWO');
      const sameSize = loadResultOf(await load([dir, '--bucket', bucket]));
      expect(sameSize).toMatchObject({ uploaded: 1, skipped: 2, failed: 0, bytes_uploaded: 3 });
      expect(sameSize.files.find((file) => file.action === 'uploaded')).toMatchObject({ path: path.join(dir, 'sub/b.csv'), reason: 'content changed' });
      expect((await destination.read(prefix, 'sub/b.csv'))?.body.toString()).toBe('TWO');

      await writeFile(path.join(dir, 'sub/b.csv'), 'two, edited');
      const changed = loadResultOf(await load([dir, '--bucket', bucket]));
      expect(changed).toMatchObject({ uploaded: 1, skipped: 2, failed: 0, bytes_uploaded: 11 });
      expect(changed.files.find((file) => file.action === 'uploaded')).toMatchObject({ path: path.join(dir, 'sub/b.csv'), reason: 'content changed' });
      expect((await destination.read(prefix, 'sub/b.csv'))?.body.toString()).toBe('two, edited');

      const forced = loadResultOf(await load([dir, '--bucket', bucket, '--force']));
      expect(forced).toMatchObject({ uploaded: 3, skipped: 0 });
    });

    it('--dry-run says what would be uploaded where, and changes nothing (a bucket is not even contacted)', async () => {
      const { dir, prefix } = await freshCase({ 'same.csv': 'same', 'new.csv': 'new' });
      const bucket = destination.bucket(prefix);
      expect((await load([path.join(dir, 'same.csv'), '--bucket', bucket])).code).toBe(0);
      await writeFile(path.join(dir, 'same.csv'), 'same');

      const requestsBefore = destination.proxy?.requests.length;
      const run = await runCliInProcess(['load', dir, '--bucket', bucket, '--dry-run', ...destination.flags], { env: destination.env });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`upload ${path.join(dir, 'new.csv')} -> `);
      if (factory.name === 'local') {
        // A local directory is compared: reading it touches no network.
        expect(run.stdout).toMatch(/upload .*new\.csv -> \S+new\.csv \(new\)/);
        expect(run.stdout).toMatch(/skip +.*same\.csv -> \S+same\.csv \(same sha256\)/);
        expect(run.stdout).toMatch(/dry run: 1 would upload \(3 B\), 1 would skip, 0 failed/);
      } else {
        expect(run.stdout).toMatch(/upload .*same\.csv -> \S+same\.csv \(not compared: a dry run sends no request to (gs|s3):\/\/etl-test\/\)/);
        expect(run.stdout).toMatch(/dry run: 2 would upload \(7 B\), 0 would skip, 0 failed/);
        expect(destination.proxy?.requests.length).toBe(requestsBefore);
      }
      expect(await destination.read(prefix, 'new.csv')).toBeNull();
    });

    it('a large file goes up in parts (S3 multipart, GCS resumable) and arrives intact', async () => {
      const large = randomBytes(20 * 1024 * 1024 + 123);
      const { dir, prefix } = await freshCase({ 'large.bin': large });
      const requestsBefore = destination.proxy?.requests.length ?? 0;
      const run = await load([path.join(dir, 'large.bin'), '--bucket', destination.bucket(prefix)]);
      expect(run.code, run.stderr).toBe(0);
      const [file] = loadResultOf(run).files;
      const requests = destination.proxy?.requests.slice(requestsBefore) ?? [];
      if (factory.name === 's3') {
        expect(file).toMatchObject({ method: 'multipart', parts: 3 });
        expect(requests.filter((request) => request.method === 'PUT' && /[?&]partNumber=\d/.test(request.url))).toHaveLength(3);
      } else if (factory.name === 'gcs') {
        expect(file).toMatchObject({ method: 'resumable' });
        expect(requests.some((request) => request.method === 'POST' && request.url.includes('uploadType=resumable'))).toBe(true);
      }
      expect(sha256((await destination.read(prefix, 'large.bin'))!.body)).toBe(sha256(large));
    });

    it('a destination that cannot be written is a load error naming it; other files are not tried', async () => {
      const { dir } = await freshCase({ 'a.csv': 'a', 'b.csv': 'b', 'c.csv': 'c' });
      const run = await runCli(['load', dir, '--bucket', destination.missingBucket, '--concurrency', '1', ...destination.flags], { env: destination.env });
      expect(run.code).toBe(5);
      expect(run.stdout).toMatch(/0 uploaded, 0 skipped \(already there\), 3 failed/);
      const expected = factory.name === 'local' ? /cannot write .*not-a-directory/ : /bucket (s3|gs):\/\/etl-no-such-bucket does not exist/;
      expect(run.stderr).toMatch(expected);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: load error: 3 of 3 files failed to upload to .*; 2 not tried after that/)]);
    });

    it.skipIf(factory.name === 'local')('rejected credentials are a load error that says which credentials to check and prints no secret', async () => {
      const { env, faults } = destination.rejectedCredentials!;
      const removals = faults.map((fault) => destination.proxy!.addFault(fault));
      try {
        const { dir, prefix } = await freshCase({ 'a.csv': 'a' });
        const run = await runCliInProcess(['load', dir, '--bucket', destination.bucket(prefix), ...destination.flags], { env: { ...destination.env, ...env } });
        expect(run.code).toBe(5);
        expect(run.stderr).toMatch(/credentials rejected|credentials were rejected/);
        expect(run.stderr).toMatch(factory.name === 's3' ? /AWS_ACCESS_KEY_ID/ : /GOOGLE_APPLICATION_CREDENTIALS/);
        // S3's case holds a secret key that must not be printed. The GCS emulator takes no credentials, so its case
        // has none to leak and checks the message alone.
        const secrets = Object.values(env).filter((value) => value.includes('secret'));
        expect(secrets).toHaveLength(factory.name === 's3' ? 1 : 0);
        for (const secret of secrets) expect(run.stderr + run.stdout).not.toContain(secret);
      } finally {
        for (const remove of removals) remove();
      }
    });

    describe.skipIf(factory.name === 'local')('over a bad network', () => {
      const withFault = async (fault: Fault, run: () => Promise<void>): Promise<void> => {
        const remove = destination.proxy!.addFault(fault);
        try {
          await run();
        } finally {
          remove();
        }
      };

      it('a connection dropped mid-upload is retried and the object verified', async () => {
        const content = randomBytes(64 * 1024);
        const { dir, prefix } = await freshCase({ 'deaths.parquet': content });
        await withFault(uploadFault({ kind: 'drop' }, 1), async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code, run.stderr).toBe(0);
          expect(destination.proxy!.requests.some((request) => request.fault === 'drop')).toBe(true);
          expect(sha256((await destination.read(prefix, 'deaths.parquet'))!.body)).toBe(sha256(content));
        });
      });

      it('a connection that always drops fails cleanly: exit 5 and no object', async () => {
        const { dir, prefix } = await freshCase({ 'deaths.parquet': randomBytes(64 * 1024) });
        await withFault(uploadFault({ kind: 'drop' }, Infinity), async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code).toBe(5);
          expect(loadResultOf(run)).toMatchObject({ uploaded: 0, failed: 1 });
        });
        expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();
      });

      it('bytes damaged in transit are caught by the store checksum: the object is deleted and uploaded again', async () => {
        const content = randomBytes(64 * 1024);
        const { dir, prefix } = await freshCase({ 'deaths.parquet': content });
        await withFault(uploadFault({ kind: 'corrupt' }, 1), async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code, run.stderr).toBe(0);
          expect(run.stderr).toMatch(/does not match .* after upload/);
        });
        expect(sha256((await destination.read(prefix, 'deaths.parquet'))!.body)).toBe(sha256(content));
      });

      it('bytes damaged on every attempt fail the file and leave no object behind', async () => {
        const { dir, prefix } = await freshCase({ 'deaths.parquet': randomBytes(64 * 1024), 'ok.csv': 'fine' });
        await withFault(uploadFault({ kind: 'corrupt' }, Infinity), async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code).toBe(5);
          expect(loadResultOf(run)).toMatchObject({ uploaded: 1, failed: 1 });
          expect(run.stderr).toMatch(/1 of 2 files failed/);
        });
        expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();
        expect((await destination.read(prefix, 'ok.csv'))?.body.toString()).toBe('fine');
      });

      it('a connection dropped in the middle of a multipart (S3) or resumable (GCS) upload is retried; the object arrives whole', async () => {
        const large = randomBytes(20 * 1024 * 1024 + 7);
        const { dir, prefix } = await freshCase({ 'large.bin': large });
        // S3: the second part of three; GCS: the resumable session's body.
        let bodies = 0;
        const nth = factory.name === 's3' ? 2 : 1;
        const midUpload: Fault = { matches: (request) => isUploadBody(request) && ++bodies === nth, action: { kind: 'drop' }, times: 1 };
        await withFault(midUpload, async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code, run.stderr).toBe(0);
          expect(loadResultOf(run).files[0]).toMatchObject({ action: 'uploaded', method: factory.name === 's3' ? 'multipart' : 'resumable' });
        });
        const dropped = destination.proxy!.requests.filter((request) => request.fault === 'drop').at(-1)!;
        if (factory.name === 's3') expect(dropped.url).toMatch(/[?&]partNumber=\d/);
        else expect(dropped.method).toBe('PUT');
        expect(sha256((await destination.read(prefix, 'large.bin'))!.body)).toBe(sha256(large));
      });

      it('a 503 storm that outlasts every retry fails with one error line and no object; the next run uploads', async () => {
        const { dir, prefix } = await freshCase({ 'deaths.parquet': randomBytes(16 * 1024) });
        const bucket = destination.bucket(prefix);
        await withFault(uploadFault({ kind: 'respond', status: 503, body: '{"error":{"code":503,"message":"Service Unavailable"}}' }, Infinity), async () => {
          const run = await runCliInProcess(['load', dir, '--bucket', bucket, ...destination.flags], { env: destination.env });
          expect(run.code).toBe(5);
          expect(run.stderr.split('\n').filter((line) => line.startsWith('etl: '))).toEqual([expect.stringMatching(/^etl: load error: .*deaths\.parquet: upload to .* failed: .*(503|Service Unavailable)/)]);
        });
        expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();
        const after = await load([dir, '--bucket', bucket]);
        expect(after.code, after.stderr).toBe(0);
        expect(loadResultOf(after)).toMatchObject({ uploaded: 1, failed: 0 });
      });

      it('credentials that expire mid-run stop the run after the files that made it; a run with fresh credentials finishes', async () => {
        const { dir, prefix } = await freshCase({ 'a.csv': 'first', 'b.csv': 'second', 'c.csv': 'third' });
        const bucket = destination.bucket(prefix);
        const expired = factory.name === 's3'
          ? { kind: 'respond' as const, status: 400, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>', headers: { 'content-type': 'application/xml' } }
          : { kind: 'respond' as const, status: 401, body: JSON.stringify({ error: { code: 401, message: 'Invalid Credentials', errors: [{ message: 'Invalid Credentials' }] } }) };
        // Every request about b.csv or c.csv: the token ran out after a.csv went up.
        const afterFirstFile: Fault = { matches: (request) => /[bc]\.csv/.test(decodeURIComponent(request.url)), action: expired, times: Infinity };
        await withFault(afterFirstFile, async () => {
          const run = await load([dir, '--bucket', bucket, '--concurrency', '1']);
          expect(run.code).toBe(5);
          expect(loadResultOf(run)).toMatchObject({ uploaded: 1, failed: 2 });
          expect(run.stderr.split('\n').filter((line) => /"level":"error"/.test(line))).toEqual([expect.stringMatching(/(credentials rejected|session token has expired).*1 not tried after that/)]);
        });
        expect((await destination.read(prefix, 'a.csv'))?.body.toString()).toBe('first');
        expect(await destination.read(prefix, 'b.csv')).toBeNull();
        const refreshed = loadResultOf(await load([dir, '--bucket', bucket]));
        expect(refreshed).toMatchObject({ uploaded: 2, skipped: 1, failed: 0 });
      });

      it('throttling (503) is retried with backoff', async () => {
        const { dir, prefix } = await freshCase({ 'deaths.parquet': randomBytes(16 * 1024) });
        const requestsBefore = destination.proxy!.requests.length;
        const slowDown = factory.name === 's3'
          ? '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
          : JSON.stringify({ error: { code: 503, message: 'Service Unavailable' } });
        await withFault(uploadFault({ kind: 'respond', status: 503, body: slowDown, headers: { 'content-type': factory.name === 's3' ? 'application/xml' : 'application/json' } }, 2), async () => {
          const run = await load([dir, '--bucket', destination.bucket(prefix)]);
          expect(run.code, run.stderr).toBe(0);
          expect(destination.proxy!.requests.slice(requestsBefore).filter((request) => request.fault === 'respond')).toHaveLength(2);
        });
        expect(await destination.read(prefix, 'deaths.parquet')).not.toBeNull();
      });
    });
  });
}
