import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloseDelimitedServer } from '../helpers/close-delimited-server.js';
import { startFileServer, type FileServer, type ServedFile } from '../helpers/http-server.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, startCli } from '../helpers/run-cli.js';

/**
 * `etl extract` as a user runs it (the built CLI) against servers that misbehave: close-delimited
 * bodies, kill -9 part-way, a raw file corrupted on disk, colliding names, credentials in --url, a full disk.
 * Runs that only prepare or re-check a fault go through the CLI's `main` in this process (test/helpers/cli-in-process.ts).
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-extract-faults-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Bytes that pass extract's workbook sniff (zip magic), distinct per seed. */
function workbookBody(seed: string, bytes: number): Buffer {
  const filler = createHash('sha256').update(seed).digest('hex');
  return Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.from(filler.repeat(Math.ceil(bytes / filler.length))).subarray(0, bytes - 4)]);
}

function page(hrefs: string[]): string {
  return `<html><body>${hrefs.map((href) => `<a href="${href}">download</a>`).join('\n')}</body></html>`;
}

interface Entry {
  path: string;
  bytes: number;
  sha256: string;
  url: string;
}

async function readManifest(rawDir: string): Promise<{ page_url: string; files: Entry[] } | null> {
  try {
    return JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Every entry's bytes are on disk, re-hashed. */
async function expectManifestMatchesDisk(rawDir: string): Promise<void> {
  for (const entry of (await readManifest(rawDir))?.files ?? []) {
    const bytes = await readFile(path.join(rawDir, entry.path));
    expect({ path: entry.path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }).toEqual({ path: entry.path, bytes: entry.bytes, sha256: entry.sha256 });
  }
}

async function tempFilesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((name) => path.basename(name).startsWith('.etl-tmp-'));
}

const rawDirOf = (dataDir: string) => path.join(dataDir, 'raw', 'ons', 'monthly-deaths');

describe('extract from close-delimited servers (HTTP/1.0, Connection: close, no Content-Length)', () => {
  it.each(['http/1.0', 'connection-close'] as const)('%s: 2 runs of 3 large files each, every one whole', async (style) => {
    const server = await startCloseDelimitedServer(style);
    const files = [2019, 2020, 2021].map((year) => ({ href: `/data/${year}/deaths${year}.xlsx`, body: workbookBody(`${style}${year}`, 6_000_000) }));
    for (const file of files) server.bodies.set(file.href, { body: file.body });
    server.bodies.set('/page', { body: Buffer.from(page(files.map((f) => f.href))), contentType: 'text/html' });
    for (let run = 0; run < 2; run++) {
      const dataDir = path.join(work, `closing-${style.replace('/', '')}-${run}`);
      // The second run through the CLI's main in this process (test/helpers/cli-in-process.ts): the same reads.
      const result = await (run === 0 ? runCli : runCliInProcess)(['extract', 'ons', '--url', `${server.url}/page`, '--data-dir', dataDir]);
      expect(result.stderr).not.toMatch(/paused|AssertionError/);
      expect(result.code, result.stderr).toBe(0);
      const manifest = await readManifest(rawDirOf(dataDir));
      expect(manifest?.files.map((f) => f.sha256)).toEqual(files.map((f) => createHash('sha256').update(f.body).digest('hex')));
      await expectManifestMatchesDisk(rawDirOf(dataDir));
    }
    await server.close();
  });
});

describe('network faults through the CLI', () => {
  it('a host that does not resolve fails at once: exit 3, one line, a hint about the network, no retries', async () => {
    const result = await runCli(['extract', 'ons', '--url', 'http://etl-test.invalid/page', '--data-dir', path.join(work, 'dns')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^etl: source error: GET http:\/\/etl-test\.invalid\/page: cannot resolve host etl-test\.invalid \((ENOTFOUND|EAI_AGAIN)\).*check the network/m);
    expect(result.stderr).not.toMatch(/retry/);
  });

  it('a page with more workbook links than --max-links is refused before any download', async () => {
    const hrefs = Array.from({ length: 6 }, (_, i) => `/d/${2010 + i}/f${i}.xlsx`);
    const server = await startFileServer({ '/page': { body: page(hrefs), contentType: 'text/html' } });
    const result = await runCli(['extract', 'ons', '--url', `${server.url}/page`, '--data-dir', path.join(work, 'links'), '--max-links', '5']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/lists 6 workbook links, more than --max-links 5.*raise --max-links/);
    expect(server.requests.map((r) => r.path)).toEqual(['/page']);
    await server.close();
  });
});

describe('the manifest tells the truth about the raw layer', () => {
  let server: FileServer;
  const years = [2015, 2016, 2017, 2018, 2019];
  const href = (year: number) => `/file?uri=/deaths/${year}/deaths${year}.xlsx`;
  const serve = (version: string, pace?: ServedFile['pace']) => {
    for (const year of years) server.set(href(year), { body: workbookBody(`${version}-${year}`, 150_000 + year), pace });
  };

  beforeAll(async () => {
    server = await startFileServer({ '/page': { body: page(years.map(href)), contentType: 'text/html' } });
  });
  afterAll(() => server.close());

  /** The runs around the faults go through the CLI's main in this process (test/helpers/cli-in-process.ts); the killed ones are processes. */
  const extract = (dataDir: string, ...extra: string[]) =>
    runCliInProcess(['extract', 'ons', '--url', `${server.url}/page`, '--data-dir', dataDir, '--concurrency', '2', ...extra]);

  it('kill -9 at several points, then a normal re-run: consistent at every step, same result as an uninterrupted run', async () => {
    serve('v2');
    const reference = path.join(work, 'reference');
    expect((await extract(reference)).code).toBe(0);
    const expected = (await readManifest(rawDirOf(reference)))!.files.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 }));

    // Kill points: while the first file streams in; after 2 files; after 4 files.
    const killPoints: Array<{ name: string; reached: (rawDir: string, since: number) => Promise<boolean> }> = [
      { name: 'mid-file', reached: async (rawDir) => (await tempFilesBelow(rawDir)).length > 0 },
      { name: 'after 2 files', reached: async (_rawDir, since) => server.requests.slice(since).filter((r) => r.status === 200 && r.path !== '/page').length >= 2 },
      { name: 'after 4 files', reached: async (_rawDir, since) => server.requests.slice(since).filter((r) => r.status === 200 && r.path !== '/page').length >= 4 },
    ];
    for (const point of killPoints) {
      const dataDir = path.join(work, `killed-${point.name.replace(/ /g, '-')}`);
      const rawDir = rawDirOf(dataDir);
      serve('v1');
      expect((await extract(dataDir)).code).toBe(0);
      serve('v2', { bytes: 16_384, delayMs: 25 }); // changed upstream, and slow enough to be caught part-way
      const since = server.requests.length;
      const { child, done } = startCli(['extract', 'ons', '--url', `${server.url}/page`, '--data-dir', dataDir, '--concurrency', '2']);
      while (!(await point.reached(rawDir, since)) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(child.exitCode, point.name).toBeNull();
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      await expectManifestMatchesDisk(rawDir);

      serve('v2');
      const rerun = await extract(dataDir);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(await tempFilesBelow(dataDir)).toEqual([]);
      await expectManifestMatchesDisk(rawDir);
      expect((await readManifest(rawDir))!.files.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 }))).toEqual(expected);
    }
  });

  it('a raw file corrupted on disk at the same size is fetched again, without conditional headers', async () => {
    serve('v3');
    const dataDir = path.join(work, 'corrupted');
    expect((await extract(dataDir)).code).toBe(0);
    const victim = path.join(rawDirOf(dataDir), '2017', 'deaths2017.xlsx');
    const good = await readFile(victim);
    const bad = Buffer.from(good);
    bad[1000] = bad[1000]! ^ 0xff;
    await writeFile(victim, bad);

    const since = server.requests.length;
    const result = await extract(dataDir);
    expect(result.code, result.stderr).toBe(0);
    const again = server.requests.slice(since).filter((r) => r.path !== '/page');
    const refetched = again.filter((r) => r.path === href(2017));
    expect(refetched.map((r) => [r.status, r.headers['if-none-match'], r.headers['if-modified-since']])).toEqual([[200, undefined, undefined]]);
    expect(again.filter((r) => r.path !== href(2017)).map((r) => r.status)).toEqual([304, 304, 304, 304]);
    expect(await readFile(victim)).toEqual(good);
    await expectManifestMatchesDisk(rawDirOf(dataDir));
  });

  it('links that map to one edition and file name are kept apart, with one warning; credentials in --url are never stored', async () => {
    const colliding = ['/a/2019/same.xls', '/a/2019/same.xls?v=2', '/b/2019/same.xls'];
    const own = await startFileServer({ '/page': { body: page(colliding), contentType: 'text/html' } });
    colliding.forEach((p, i) => own.set(p, { body: workbookBody(`same-${i}`, 5000 + i) }));
    const dataDir = path.join(work, 'colliding');
    const pageUrl = own.url.replace('http://', 'http://reader:s3cret-pass@') + '/page';
    const result = await runCli(['--json', 'extract', 'ons', '--url', pageUrl, '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => /"level":"warn"/.test(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/3 links on the page are named 2019\/same\.xls/);
    const manifestText = await readFile(path.join(rawDirOf(dataDir), 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText) as { page_url: string; files: Entry[] };
    expect(new Set(manifest.files.map((f) => f.path)).size).toBe(3);
    expect(manifest.files.map((f) => f.path)).toEqual(expect.arrayContaining([expect.stringMatching(/^2019\/same-[0-9a-f]{8}\.xls$/)]));
    await expectManifestMatchesDisk(rawDirOf(dataDir));
    for (const text of [manifestText, result.stdout, result.stderr]) {
      expect(text).not.toContain('s3cret');
      expect(text).not.toContain('reader');
    }
    expect(manifest.page_url).toBe(`${own.url}/page`);
    // The credentials were used: sent as Basic auth to the page's host.
    expect(own.requests.every((r) => r.headers.authorization === `Basic ${Buffer.from('reader:s3cret-pass').toString('base64')}`)).toBe(true);
    await own.close();
  });
});

describe('a full disk during extract', () => {
  let mountPoint: string;
  let mounted = false;
  beforeAll(async () => {
    mountPoint = path.join(work, 'tiny-disk');
    await mkdir(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
      mounted = true;
    } catch {
      console.warn('skipping the full-disk extract test: cannot mount a tmpfs here (needs root)');
    }
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mountPoint]);
  });

  it('is a load error naming "no space left"; files already there and the manifest stay intact, no temp file', async (context) => {
    if (!mounted) context.skip();
    const hrefs = [2020, 2021].map((year) => `/d/${year}/f${year}.xlsx`);
    const server = await startFileServer({ '/page': { body: page(hrefs), contentType: 'text/html' } });
    hrefs.forEach((h, i) => server.set(h, { body: workbookBody(`small-${i}`, 200_000) }));
    const dataDir = path.join(mountPoint, 'data');
    const args = ['extract', 'ons', '--url', `${server.url}/page`, '--data-dir', dataDir, '--concurrency', '1'];
    expect((await runCliInProcess(args)).code).toBe(0);
    const rawDir = rawDirOf(dataDir);
    const before = await readFile(path.join(rawDir, '2020', 'f2020.xlsx'));
    const manifestBefore = (await readManifest(rawDir))!.files;

    server.set(hrefs[0]!, { body: workbookBody('too-big', 2_000_000) });
    const result = await runCli(args);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^etl: load error: no space left on the device holding .*2020 \(writing f2020\.xlsx\)/m);
    expect(result.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(await readFile(path.join(rawDir, '2020', 'f2020.xlsx'))).toEqual(before);
    expect((await readManifest(rawDir))!.files).toEqual(manifestBefore);
    await expectManifestMatchesDisk(rawDir);
    expect(await tempFilesBelow(dataDir)).toEqual([]);
    expect((await stat(path.join(rawDir, '2021', 'f2021.xlsx'))).size).toBe(200_000);
    await server.close();
  });
});
