import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/core/log.js';
import type { LocalFile } from '../../src/core/sink.js';
import { LoadError } from '../../src/core/errors.js';
import { createSink } from '../../src/load/index.js';
import { parseDestination } from '../../src/load/destination.js';
import { contentTypeOf, hashLocalFile, listInputFiles } from '../../src/load/input-files.js';
import { describeSummary, failIfAnyFailed, loadFiles, type LoadRequest, type LoadSummary } from '../../src/load/load-files.js';
import { DEFAULT_KEY_TEMPLATE } from '../../src/load/object-key.js';
import { VERSION } from '../../src/version.js';
import { UploadError } from '../../src/load/upload-error.js';
import { gcsDestination, localDestination, s3Destination, type DestinationFactory, type DestinationUnderTest } from './destinations.js';
import { isUploadBody } from './servers/fault-proxy.js';
import { withEnv } from '../helpers/env.js';
import { mountTmpfs, unmount } from '../helpers/tmpfs.js';

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
  return { lines, log: createLogger({ stream, interactive: false, debug: true }) };
}

const isRefused = (request: { fault?: string }): boolean => request.fault === 'respond';

const outcomes = (summary: LoadSummary) => summary.files.map((file) => `${path.basename(file.path)}: ${file.action}: ${file.reason}`);

const flipped = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

for (const factory of DESTINATIONS) {
  describe(`loadFiles and the ${factory.name} sink`, () => {
    if (factory.unavailable) {
      if (process.env.CI) throw new Error(`${factory.name} must be tested in CI: ${factory.unavailable}`);
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
      const receipt = { local: 'file-copy, verified by sha256 (re-read)', s3: 'single-request, verified by md5 ETag (store)', gcs: 'single-request, verified by md5 (store)' }[factory.name];
      expect(first.lines.join('')).toContain(`sub/b.csv (3 B, ${receipt})`);
      expect(first.lines.join('')).toMatch(/uploaded .*b\.csv -> \S+sub\/b\.csv \(3 B, /);

      const uri = first.summary.destination;
      expect(first.lines).toEqual(expect.arrayContaining([`debug: uploading 2 files to ${uri}\n`, `debug: 2 files in ${uri}\n`]));
      if (factory.name !== 'local') {
        const local = await hashLocalFile(path.join(dir, 'sub/b.csv'));
        expect((await destination.read(prefix, 'sub/b.csv'))?.metadata).toEqual({ sha256: local.sha256, source: encodeURI(path.join(dir, 'sub/b.csv')), etl_version: VERSION });
      }

      const again = await load([dir], bucket);
      expect(reasons(again.summary)).toEqual({ 'a.csv': 'skipped: same sha256', 'b.csv': 'skipped: same sha256' });
      expect(again.lines).toContain(`debug: skipped ${path.join(dir, 'a.csv')}: ${uri}a.csv already has sha256 ${createHash('sha256').update('one').digest('hex')}\n`);
      expect(again.summary).toMatchObject({ uploaded: 0, skipped: 2, bytesUploaded: 0 });

      await writeFile(path.join(dir, 'sub/b.csv'), 'TWO');
      const sameSize = await load([dir], bucket);
      expect(reasons(sameSize.summary)).toEqual({ 'a.csv': 'skipped: same sha256', 'b.csv': 'uploaded: content changed' });
      expect((await destination.read(prefix, 'sub/b.csv'))?.body.toString()).toBe('TWO');

      const forced = await load([dir], bucket, { force: true });
      expect(reasons(forced.summary)).toEqual({ 'a.csv': 'uploaded: --force', 'b.csv': 'uploaded: --force' });

      // Written by another tool: a store keeps no sha256 for it, so it is uploaded again (a directory hashes what is there).
      await destination.put(prefix, 'a.csv', 'one');
      const foreign = await load([path.join(dir, 'a.csv')], bucket);
      expect(reasons(foreign.summary)).toEqual({ 'a.csv': factory.name === 'local' ? 'skipped: same sha256' : 'uploaded: no sha256 recorded' });
      expect(foreign.lines).toContain(factory.name === 'local' ? `debug: 1 file in ${uri}\n` : `debug: uploading 1 file to ${uri}\n`);
    });

    it('a dry run names what would happen and writes nothing (a bucket is not even asked)', async () => {
      const { dir, prefix } = await freshCase({ 'same.csv': 'same', 'new.csv': 'new!' });
      const bucket = destination.bucket(prefix);
      await load([path.join(dir, 'same.csv')], bucket);

      const { summary, lines } = await load([dir], bucket, { dryRun: true });
      expect(lines).toEqual(expect.arrayContaining([`debug: checking 2 files to ${summary.destination}\n`, `debug: 2 files checked against ${summary.destination}\n`]));
      expect(describeSummary(summary)).toMatch(factory.name === 'local' ? /^dry run: 1 would upload \(4 B\), 1 would skip, 0 failed; / : /^dry run: 2 would upload \(8 B\), 0 would skip, 0 failed; /);
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
      if (factory.name !== 'local') expect(summary.files[0]!.reason).toBe(`bucket ${factory.name === 's3' ? 's3' : 'gs'}://etl-no-such-bucket does not exist`);
      expect(() => failIfAnyFailed(summary)).toThrow(/^3 of 3 files failed to upload to \S+: [^;]+; 2 not tried after that$/);
      // The hint is the one for what stopped the run (create the bucket, check the directory), not the generic one.
      const stoppedBy = summary.files[0]!.error as UploadError;
      expect(stoppedBy.hint).toMatch(/create it|writable directory/);
      expect(() => failIfAnyFailed(summary)).toThrow(expect.objectContaining({ hint: stoppedBy.hint }));
    });

    it.skipIf(factory.name === 'local')('throttling that outlasts the SDK\'s own retries is retried whole and said so; a rejected file is not retried', async () => {
      const { dir, prefix } = await freshCase({ 'deaths.parquet': 'x'.repeat(64 * 1024) });
      const bucket = destination.bucket(prefix);
      // Enough 503s to use up the SDK's own attempts (S3: 3; GCS does not retry an unconditional upload): etl's second attempt goes through.
      // S3 throttles with 503 SlowDown, Cloud Storage with 429.
      const remove = destination.proxy!.addFault({ matches: isUploadBody, action: { kind: 'respond', status: factory.name === 's3' ? 503 : 429, body: '' }, times: factory.name === 's3' ? 3 : 1 });
      try {
        const { summary, lines } = await load([dir], bucket);
        expect(summary).toMatchObject({ uploaded: 1, failed: 0 });
        expect(lines.join('')).toMatch(/warn: [\s\S]*; attempt 2\/3 in \d+\.\d s/);
      } finally {
        remove();
      }
      const uploadsBefore = destination.proxy!.requests.filter(isRefused).length;
      const rejection = factory.name === 's3'
        ? { kind: 'respond' as const, status: 400, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Invalid argument.</Message></Error>', headers: { 'content-type': 'application/xml' } }
        : { kind: 'respond' as const, status: 400, body: JSON.stringify({ error: { code: 400, message: 'Invalid argument.', errors: [{ message: 'Invalid argument.' }] } }) };
      const refuse = destination.proxy!.addFault({ matches: isUploadBody, action: rejection, times: Infinity });
      try {
        await writeFile(path.join(dir, 'deaths.parquet'), 'y'.repeat(64 * 1024));
        const { summary, lines } = await load([dir], bucket);
        expect(summary).toMatchObject({ uploaded: 0, failed: 1 });
        expect(summary.files[0]!.reason).toBe(`upload to ${summary.files[0]!.uri} failed: ${factory.name === 's3' ? 'InvalidArgument: ' : ''}Invalid argument.`);
        expect(summary.files[0]!.error).toMatchObject({ recovery: 'file' });
        expect(lines.join('')).not.toMatch(/attempt 2\/3/);
        expect(destination.proxy!.requests.filter(isRefused).length - uploadsBefore).toBe(1);
      } finally {
        refuse();
      }
    });

    it.skipIf(factory.name === 'local')('a failure that does not heal is tried three times in all, waiting longer each time, then fails the file', async () => {
      const { dir, prefix } = await freshCase({ 'deaths.parquet': 'w'.repeat(64 * 1024) });
      const before = destination.proxy!.requests.filter(isRefused).length;
      const remove = destination.proxy!.addFault({ matches: isUploadBody, action: { kind: 'respond', status: factory.name === 's3' ? 503 : 429, body: '' }, times: Infinity });
      try {
        const { summary, lines } = await load([dir], destination.bucket(prefix));
        expect(summary).toMatchObject({ uploaded: 0, failed: 1 });
        const warnings = lines.filter((line) => line.startsWith('warn: '));
        // Backoff with jitter: 0.25-0.5 s before the second attempt, 0.5-1 s before the third.
        expect(warnings).toEqual([expect.stringMatching(/; attempt 2\/3 in 0\.[2-5] s\n$/), expect.stringMatching(/; attempt 3\/3 in (0\.[5-9]|1\.0) s\n$/)]);
        // Cloud Storage does not retry an unconditional upload itself: each of etl's attempts is one request.
        if (factory.name === 'gcs') expect(destination.proxy!.requests.filter(isRefused).length - before).toBe(3);
        expect(summary.files[0]!.reason).toMatch(new RegExp(`^upload to ${summary.files[0]!.uri} failed: HTTP ${factory.name === 's3' ? 503 : 429} `));
        expect(summary.files[0]!.error).toMatchObject({ recovery: 'retry', hint: 'check the network or --endpoint, then run again: finished files are skipped' });
      } finally {
        remove();
      }
    });

    it.skipIf(factory.name === 'local')('a connection dropped more often than the SDK retries is retried whole, and the object arrives whole', async () => {
      const content = 'z'.repeat(64 * 1024);
      const { dir, prefix } = await freshCase({ 'deaths.parquet': content });
      const remove = destination.proxy!.addFault({ matches: isUploadBody, action: { kind: 'drop' }, times: factory.name === 's3' ? 3 : 1 });
      try {
        const { summary, lines } = await load([dir], destination.bucket(prefix));
        expect(summary).toMatchObject({ uploaded: 1, failed: 0 });
        expect(lines.join('')).toMatch(/warn: upload to \S+deaths\.parquet failed: (?!HTTP ).*; attempt 2\/3 in \d+\.\d s/);
        // The SDK names the request's URL; its query (for a resumable session, the upload_id that lets anyone write) is cut off.
        if (factory.name === 'gcs') expect(lines).toContainEqual(expect.stringMatching(/^warn: upload to gs:\/\/etl-test\/files-\d+\/deaths\.parquet failed: request to http:\/\/127\.0\.0\.1:\d+\/upload\/storage\/v1\/b\/etl-test\/o failed, reason: [^?]+; attempt 2\/3 in \d\.\d s\n$/));
      } finally {
        remove();
      }
      expect((await destination.read(prefix, 'deaths.parquet'))?.body.toString()).toBe(content);
    });

    it.skipIf(factory.name === 'local')('rejected or expired credentials stop the run: the first file fails naming what to check, the others are not tried', async () => {
      const { dir, prefix } = await freshCase({ 'a.csv': 'a', 'b.csv': 'b' });
      const { env, faults } = destination.rejectedCredentials!;
      // S3 answers a HEAD without a body: unknown keys arrive as a bare 403, an expired session token as a bare 400.
      // The body names the code (ExpiredToken) for a PUT; a HEAD carries none.
      const expiredBody = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>';
      // Cloud Storage says "Invalid Credentials" for a bad key but not for an expired token: the 401 alone must decide.
      const gcsExpiredBody = JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.' } });
      const expired = [{ matches: () => true, action: factory.name === 's3' ? { kind: 'respond' as const, status: 400, body: expiredBody, headers: { 'content-type': 'application/xml' } } : { kind: 'respond' as const, status: 401, body: gcsExpiredBody }, times: Infinity }];
      // Denied on the lookup only: an error there is not "no such object", so nothing is uploaded after it.
      const denied = factory.name === 'gcs' ? [{ matches: (request: { method: string }) => request.method === 'GET', action: { kind: 'respond' as const, status: 403, body: JSON.stringify({ error: { code: 403, message: 'etl@p.iam.gserviceaccount.com does not have storage.objects.get access' } }) }, times: Infinity }] : [];
      for (const [what, cases] of [['rejected', faults], ['expired', expired], ['denied', denied]] as const) {
        if (what !== 'rejected' && cases.length === 0) continue;
        const removals = cases.map((fault) => destination.proxy!.addFault(fault));
        try {
          const { summary } = await withEnv(what === 'rejected' ? env : {}, () => load([dir], destination.bucket(prefix), { concurrency: 1 }));
          expect(summary).toMatchObject({ uploaded: 0, failed: 2 });
          const [first, second] = summary.files;
          const message = what === 'denied' ? /^permission denied on gs:\/\/etl-test\/files-\d+\/a\.csv: etl@p\.iam\.gserviceaccount\.com does not have storage\.objects\.get access$/ : factory.name === 'gcs' ? /^credentials rejected by gs:\/\/etl-test: / : what === 'rejected' ? /^access denied to s3:\/\/etl-test\/files-\d+\/a\.csv \(\w+\): the credentials were rejected or lack permission$/ : /a\.csv: HTTP 400 without detail, as S3 answers a HEAD request when the session token has expired$/;
          expect(first!.reason).toMatch(message);
          const hint = what === 'denied' ? /^the account needs storage\.objects\.create and storage\.objects\.get on the bucket$/ : factory.name === 's3' ? /check AWS_PROFILE or AWS_ACCESS_KEY_ID/ : /^check GOOGLE_APPLICATION_CREDENTIALS/;
          expect(first!.error).toMatchObject({ recovery: 'destination', hint: expect.stringMatching(hint) });
          expect(second!.reason).toMatch(/^not tried/);
          for (const secret of Object.values(env)) expect(JSON.stringify(summary.files.map((file) => [file.reason, (file.error as UploadError | undefined)?.hint]))).not.toContain(secret);
          if (factory.name === 's3') {
            // With --force nothing is asked first: the upload itself is refused, and its error names the cause.
            const forced = await withEnv(what === 'rejected' ? env : {}, () => load([dir], destination.bucket(prefix), { concurrency: 1, force: true }));
            expect(forced.summary.files[0]!.reason).toBe(`credentials rejected by s3://etl-test: ${what === 'rejected' ? 'InvalidAccessKeyId' : 'ExpiredToken'}`);
            expect(forced.summary.files[0]!.error).toMatchObject({ recovery: 'destination', hint: expect.stringMatching(/^check AWS_PROFILE or AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY/) });
          }
        } finally {
          for (const remove of removals) remove();
        }
      }
    });

    it.skipIf(factory.name === 'local')('a file above 8 MiB goes in parts (S3) or as a resumable upload (GCS), verified against what the store gives', async () => {
      const content = randomBytes(8 * 1024 * 1024 + 7);
      const { dir, prefix } = await freshCase({});
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'large.bin'), content);
      // Exactly 8 MiB is the largest file sent in one request.
      await writeFile(path.join(dir, 'edge.bin'), content.subarray(0, 8 * 1024 * 1024));
      const { summary, lines } = await load([dir], destination.bucket(prefix));
      const receiptOf = (name: string) => summary.files.find((file) => file.uri.endsWith(`/${name}`))!.receipt;
      expect(receiptOf('edge.bin')).toMatchObject({ method: 'single-request', parts: 1 });
      if (factory.name === 's3') {
        // s3rver gives a multipart object the md5 of its whole body, as some S3-compatible stores do (AWS: md5 of the parts' md5s, -N).
        expect(receiptOf('large.bin')).toEqual({ method: 'multipart', parts: 2, verifiedWith: 'md5 ETag (store)' });
        expect(lines.join('')).toMatch(/large\.bin \(8\.0 MiB, multipart in 2 parts, verified by /);
      } else {
        expect(receiptOf('large.bin')).toEqual({ method: 'resumable', parts: 1, verifiedWith: 'md5 (store)' });
      }
      expect((await destination.read(prefix, 'large.bin'))?.body.equals(content)).toBe(true);
    });

    it.skipIf(factory.name !== 's3')('S3 with no credentials or no region anywhere (a cron job without its profile) says which is missing', async () => {
      const { dir, prefix } = await freshCase({ 'a.csv': 'a', 'b.csv': 'b' });
      const nowhere = path.join(workDir, 'no-such-aws-file');
      const bare = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_SHARED_CREDENTIALS_FILE: nowhere, AWS_CONFIG_FILE: nowhere };
      await withEnv(bare, async () => {
        const { summary } = await load([dir], destination.bucket(prefix), { concurrency: 1 });
        expect(outcomes(summary)).toEqual([
          `a.csv: failed: no AWS credentials found for s3://etl-test/${prefix}a.csv`,
          'b.csv: failed: not tried: an earlier file showed the destination cannot be written',
        ]);
        expect(summary.files[0]!.error).toMatchObject({ recovery: 'destination', hint: expect.stringMatching(/^check AWS_PROFILE or AWS_ACCESS_KEY_ID/) });
      });
      await withEnv({ ...bare, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_S3: undefined }, async () => {
        await expect(createSink(parseDestination('s3://etl-test/ons/'), { endpoint: undefined, region: undefined })).rejects.toThrow(
          expect.objectContaining({ name: 'ConfigError', message: 'no AWS region set for s3://etl-test/', hint: 'pass --region, set AWS_REGION, or set region in the AWS profile' }),
        );
      });
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
      if (factory.name === 'local') {
        expect(error).toMatchObject({
          message: expect.stringMatching(new RegExp(`^copy of ${dir}/deaths\\.parquet to \\S+/deaths\\.parquet has sha256 ${local.sha256}, expected ${damaged.sha256}$`)),
          hint: 'the source file changed while copying, or the disk is failing: run again',
        });
      }
      expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();

      if (factory.name !== 'local') {
        expect(error).toMatchObject({ message: expect.stringMatching(/ does not match .*deaths\.parquet after upload \(store: \d+ bytes, .*; the object was deleted$/), hint: 'the bytes were damaged on the way: run again' });
        const wrongSize = await upload({ ...local, size: local.size + 1 }).then(() => undefined, (caught: unknown) => caught);
        expect((wrongSize as UploadError).message).toMatch(/does not match .* after upload/);
        expect(await destination.read(prefix, 'deaths.parquet')).toBeNull();
      }
      if (factory.name !== 'local') {
        // The store's sha256 metadata is compared with the digest taken before the upload too.
        const otherDigest = await upload({ ...local, sha256: flipped(local.sha256) }).then(() => undefined, (caught: unknown) => caught);
        expect(otherDigest).toBeInstanceOf(UploadError);
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

  it('follows a link to a file (a "latest" link, say) but not a link to a folder; a missing input is a usage error', async () => {
    const { dir } = await freshCase({ 'data/2024.csv': '2024', 'elsewhere/x.csv': 'x' });
    await symlink(path.join(dir, 'data', '2024.csv'), path.join(dir, 'data', 'latest.csv'));
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'data', 'linked-folder'));
    expect((await listInputFiles([path.join(dir, 'data')])).map((file) => file.name)).toEqual(['2024.csv', 'latest.csv']);
    const missing = path.join(dir, 'nosuch.parquet');
    await expect(listInputFiles([missing])).rejects.toThrow(expect.objectContaining({ name: 'ConfigError', message: `${missing} does not exist`, hint: 'give files or directories to upload' }));
  });

  /** loadFiles into a fresh local directory, as `etl load --bucket ./lake/` does. */
  async function loadLocally(inputs: string[], lake: string, options: Partial<LoadRequest> = {}): Promise<{ summary: LoadSummary; lines: string[] }> {
    const { lines, log } = captureLog();
    const summary = await loadFiles({ inputs, bucket: lake, keyTemplate: DEFAULT_KEY_TEMPLATE, sink: { endpoint: undefined, region: undefined }, concurrency: 2, dryRun: false, force: false, log, ...options });
    return { summary, lines };
  }

  it('a file marked last (a partition manifest) goes after every other file, and not at all when one of them failed', async () => {
    const { dir } = await freshCase({ 'a.parquet': 'a', 'b.parquet': 'b', 'c.parquet': 'c', 'manifest.json': '{}' });
    const lake = path.join(workDir, `lake-${caseNumber}`) + path.sep;
    const { summary } = await loadLocally([dir], lake, { last: 'manifest.json' });
    expect(summary.files.map((file) => path.basename(file.path))).toEqual(['a.parquet', 'b.parquet', 'c.parquet', 'manifest.json']);
    expect(summary).toMatchObject({ uploaded: 4, failed: 0, bytesUploaded: 5 });
    expect(() => failIfAnyFailed(summary)).not.toThrow();

    // A folder where b.parquet should land fails that file alone; the manifest must not claim a partition that is not all there.
    const { dir: changed } = await freshCase({ 'a.parquet': 'A', 'b.parquet': 'B', 'c.parquet': 'C', 'manifest.json': '{"v":2}' });
    await rm(path.join(lake, 'b.parquet'));
    await mkdir(path.join(lake, 'b.parquet', 'blocker'), { recursive: true });
    const again = await loadLocally([changed], lake, { last: 'manifest.json' });
    expect(outcomes(again.summary)).toEqual([
      'a.parquet: uploaded: content changed',
      expect.stringMatching(/^b\.parquet: failed: cannot write .*b\.parquet: /),
      'c.parquet: uploaded: content changed',
      'manifest.json: failed: not uploaded: it goes last, after every other file, and one failed',
    ]);
    expect(again.summary).toMatchObject({ uploaded: 2, failed: 2, bytesUploaded: 2 });
    expect(again.lines).toContain('debug: 2 of 4 files failed\n');
    expect(await readFile(path.join(lake, 'manifest.json'), 'utf8')).toBe('{}');
  });

  it('the error line names the failed files: one alone, the first three and how many more, and carries the first failure\'s hint', async () => {
    const lake = path.join(workDir, `lake-blocked-${caseNumber}`);
    const names = ['a', 'b', 'c', 'd', 'e'].map((name) => `${name}.csv`);
    for (const name of names) await mkdir(path.join(lake, name, 'blocker'), { recursive: true });
    const { dir } = await freshCase(Object.fromEntries(names.map((name) => [name, name])));

    const one = await loadLocally([path.join(dir, 'a.csv')], lake + path.sep);
    expect(() => failIfAnyFailed(one.summary)).toThrow(new RegExp(`^${dir}/a\\.csv: cannot write ${lake}/a\\.csv: `));

    const all = await loadLocally([dir], lake + path.sep);
    expect(all.summary).toMatchObject({ uploaded: 0, failed: 5 });
    const error = (() => {
      try {
        failIfAnyFailed(all.summary);
      } catch (caught) {
        return caught as LoadError;
      }
    })();
    expect(error).toBeInstanceOf(LoadError);
    expect(error!.message).toMatch(new RegExp(`^5 of 5 files failed to upload to file://${lake}/: ${dir}/a\\.csv: cannot write .*; ${dir}/b\\.csv: .*; ${dir}/c\\.csv: .*; 2 more failed$`));
    expect(error!.hint).toBe('uploaded files are kept and skipped next time; --json lists every file');
    expect(() => failIfAnyFailed({ ...all.summary, files: all.summary.files.filter((file) => file.action !== 'failed') })).not.toThrow();
  });

  it('refuses, before sending anything, inputs with no file to upload and two files bound for one key', async () => {
    const { dir } = await freshCase({ 'only/.hidden': 'x', 'one/deaths.parquet': '1', 'two/deaths.parquet': '2' });
    const lake = path.join(workDir, `lake-refused-${caseNumber}`) + path.sep;
    const only = path.join(dir, 'only');
    await expect(loadLocally([only, only], lake)).rejects.toThrow(expect.objectContaining({ name: 'ConfigError', message: `no files to upload in ${only}, ${only}`, hint: 'dot files and etl temp files are skipped' }));
    const clash = loadLocally([path.join(dir, 'one'), path.join(dir, 'two')], lake);
    await expect(clash).rejects.toThrow(expect.objectContaining({
      name: 'ConfigError',
      message: `${path.join(dir, 'one', 'deaths.parquet')} and ${path.join(dir, 'two', 'deaths.parquet')} would both be uploaded to file://${lake}deaths.parquet`,
      hint: 'rename one, or load them in separate runs to different --bucket prefixes',
    }));
    await expect(readdir(lake)).rejects.toThrow(/ENOENT/);
  });

  it('renders keys with the run\'s date, and reports how long the run took', async () => {
    const { dir } = await freshCase({ 'a.csv': 'a' });
    const lake = path.join(workDir, `lake-dated-${caseNumber}`);
    const started = performance.now();
    const { summary } = await loadLocally([dir], lake + path.sep, { keyTemplate: '{date}/{name}', now: new Date('2024-05-01T23:30:00Z') });
    const elapsed = (performance.now() - started) / 1000;
    expect(await readFile(path.join(lake, '2024-05-01', 'a.csv'), 'utf8')).toBe('a');
    expect(summary.seconds).toBeGreaterThanOrEqual(0);
    expect(summary.seconds).toBeLessThanOrEqual(elapsed);
  });

  it("clears temp files a dead run left in a folder it writes to, and leaves a live run's alone", async () => {
    const lake = path.join(workDir, `lake-swept-${caseNumber}`);
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    const dead = `.etl-tmp-${deadPid}-0a1b2c-a.csv`;
    const live = `.etl-tmp-${process.ppid}-0a1b2c-a.csv`;
    await mkdir(path.join(lake, 'ons'), { recursive: true });
    for (const name of [dead, live]) await writeFile(path.join(lake, 'ons', name), 'partial');
    const { dir } = await freshCase({ 'a.csv': 'a' });
    const { summary } = await loadLocally([dir], lake + '/ons/');
    expect(summary).toMatchObject({ uploaded: 1, failed: 0 });
    expect((await readdir(path.join(lake, 'ons'))).sort()).toEqual([live, 'a.csv'].sort());
  });

  describe('to a disk that is full or read-only', () => {
    let disk: string;
    let unavailable: string | undefined;
    beforeAll(async () => {
      disk = path.join(workDir, 'disks');
      await mkdir(path.join(disk, 'small'), { recursive: true });
      await mkdir(path.join(disk, 'read-only'), { recursive: true });
      unavailable = mountTmpfs(path.join(disk, 'small'), 'size=1m') ?? mountTmpfs(path.join(disk, 'read-only'), 'ro,size=1m');
      if (unavailable) console.warn(`[skip] full and read-only disks: ${unavailable}`);
    });
    afterAll(() => {
      if (unavailable) return;
      unmount(path.join(disk, 'small'));
      unmount(path.join(disk, 'read-only'));
    });

    it('stops the run at the first file, saying what is wrong with the destination, and keeps the previous copy', async (context) => {
      if (unavailable) context.skip();
      const { dir } = await freshCase({ 'a.parquet': 'previous good copy', 'b.parquet': 'b' });
      const lake = path.join(disk, 'small', 'lake') + path.sep;
      expect((await loadLocally([path.join(dir, 'a.parquet')], lake)).summary).toMatchObject({ uploaded: 1 });
      await writeFile(path.join(dir, 'a.parquet'), randomBytes(2 * 1024 * 1024));

      const full = await loadLocally([dir], lake, { concurrency: 1 });
      expect(outcomes(full.summary)).toEqual([
        `a.parquet: failed: no space left on the device holding ${lake} (writing ${lake}a.parquet; the partial copy was removed)`,
        'b.parquet: failed: not tried: an earlier file showed the destination cannot be written',
      ]);
      expect(full.summary.files[0]!.error).toMatchObject({ recovery: 'destination', hint: 'check that the destination is a writable directory with space left' });
      expect(await readdir(lake)).toEqual(['a.parquet']);
      expect(await readFile(path.join(lake, 'a.parquet'), 'utf8')).toBe('previous good copy');

      const readOnly = await loadLocally([dir], path.join(disk, 'read-only') + path.sep, { concurrency: 1 });
      expect(outcomes(readOnly.summary)).toEqual([
        expect.stringMatching(/^a\.parquet: failed: cannot write .*read-only\/a\.parquet: EROFS: /),
        'b.parquet: failed: not tried: an earlier file showed the destination cannot be written',
      ]);
    });
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

  it('a sink refuses an endpoint that is not a URL before any request, naming where it was set', async () => {
    const s3 = parseDestination('s3://etl-test/ons/');
    await expect(createSink(s3, { endpoint: 'minio:9000', region: undefined })).rejects.toThrow('--endpoint minio:9000 is not an http:// or https:// URL');
    await withEnv({ AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: 'minio:9000' }, async () => {
      await expect(createSink(s3, { endpoint: undefined, region: undefined })).rejects.toThrow('AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL minio:9000 is not an http:// or https:// URL');
    });
    const gcs = parseDestination('gs://etl-test/ons/');
    await expect(createSink(gcs, { endpoint: 'localhost:4443', region: undefined })).rejects.toThrow('--endpoint localhost:4443 is not an http:// or https:// URL');
    await withEnv({ STORAGE_EMULATOR_HOST: 'localhost:4443' }, async () => {
      await expect(createSink(gcs, { endpoint: undefined, region: undefined })).rejects.toThrow('STORAGE_EMULATOR_HOST localhost:4443 is not an http:// or https:// URL');
    });
  });

  it('the one summary line counts files and bytes in readable units', () => {
    const summary = (fields: Partial<LoadSummary>): LoadSummary => ({ destination: 's3://b/ons/', dryRun: false, files: [], uploaded: 0, skipped: 0, failed: 0, bytesUploaded: 0, seconds: 1.25, ...fields });
    expect(describeSummary(summary({ uploaded: 2, skipped: 1, bytesUploaded: 1023 }))).toBe('2 uploaded, 1 skipped (already there), 0 failed; 1023 B to s3://b/ons/ in 1.3 s');
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 1024 }))).toBe('1 uploaded, 0 skipped (already there), 0 failed; 1.0 KiB to s3://b/ons/ in 1.3 s');
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 5 * 1024 ** 3 + 1 }))).toMatch(/; 5\.0 GiB to /);
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 1024 ** 2 }))).toMatch(/; 1\.0 MiB to /);
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 1024 ** 2 - 1 }))).toMatch(/; 1024\.0 KiB to /);
    expect(describeSummary(summary({ uploaded: 1, bytesUploaded: 3 * 1024 ** 5 }))).toMatch(/; 3072\.0 TiB to /);
    const files = [{ path: 'a', key: 'a', uri: 's3://b/ons/a', action: 'would-upload' as const, reason: 'new', bytes: 1536 }];
    expect(describeSummary(summary({ dryRun: true, files, uploaded: 1, skipped: 2 }))).toBe('dry run: 1 would upload (1.5 KiB), 2 would skip, 0 failed; nothing sent to s3://b/ons/ in 1.3 s');
  });
});
