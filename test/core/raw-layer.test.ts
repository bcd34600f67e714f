import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataError, LoadError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { registerSecret } from '../../src/core/redact.js';
import { checkRawEntry, entryMatches, openManifest, readRawEntry, readManifest, recordResponses, saveResponse, writeManifest, type ManifestEntry, type ResponseEntry } from '../../src/core/raw-layer.js';

const sha256 = (bytes: string | Buffer): string => createHash('sha256').update(bytes).digest('hex');
const NOW = new Date('2024-03-01T12:00:00.000Z');

let work: string;
let rawDir: string;
let runs = 0;
const lines: string[] = [];
const log = createLogger({ stream: { write: (line: string) => lines.push(line.replace(/\n$/, '')) } as unknown as NodeJS.WritableStream, interactive: false });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-raw-layer-'));
});
beforeEach(() => {
  rawDir = path.join(work, `raw-${++runs}`);
  lines.length = 0;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

/** A workbook entry whose file is on disk with exactly these bytes. */
async function onDisk(edition: number, name: string, body: string, url = `http://ons.test/${edition}/${name}`): Promise<ManifestEntry> {
  const relative = `${edition}/${name}`;
  await mkdir(path.join(rawDir, String(edition)), { recursive: true });
  await writeFile(path.join(rawDir, relative), body);
  return { url, edition, path: relative, bytes: Buffer.byteLength(body), sha256: sha256(body), etag: `"${name}"`, last_modified: null, content_type: null, fetched_at: NOW.toISOString() };
}

describe('readManifest', () => {
  it('is null without a manifest, and null with a warning for a damaged one (every file is then fetched again)', async () => {
    expect(await readManifest(rawDir, log)).toBeNull();
    expect(lines).toEqual([]);
    await mkdir(rawDir, { recursive: true });
    await writeFile(path.join(rawDir, 'manifest.json'), '{"files": [');
    expect(await readManifest(rawDir, log)).toBeNull();
    await writeFile(path.join(rawDir, 'manifest.json'), '{"files": {}}');
    expect(await readManifest(rawDir, log)).toBeNull();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warn: .*manifest\.json is damaged \(.*JSON.*\); every file will be fetched again$/);
    expect(lines[1]).toBe(`warn: ${path.join(rawDir, 'manifest.json')} is damaged (no files list); every file will be fetched again`);
  });
});

describe('openManifest', () => {
  it('drops entries whose file is missing or no longer hashes the same (rewriting the manifest at once), and strips credentials from URLs', async () => {
    const intact = await onDisk(2019, 'a.xls', 'first', 'http://user:pw@ons.test/2019/a.xls');
    const sameSizeChange = await onDisk(2020, 'b.xls', 'bytes');
    const missing = { ...(await onDisk(2021, 'c.xls', 'gone')) };
    await rm(path.join(rawDir, missing.path));
    await writeManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://p', updated_at: 'earlier', files: [intact, sameSizeChange, missing] });
    await writeFile(path.join(rawDir, sameSizeChange.path), 'BYTES');

    const store = await openManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://user:pw@ons.test/page' }, log, () => NOW);
    const rewritten = await readJson(path.join(rawDir, 'manifest.json'));
    expect(rewritten).toEqual({ source: 'ons', dataset: 'd', page_url: 'http://ons.test/page', updated_at: NOW.toISOString(), files: [{ ...intact, url: 'http://ons.test/2019/a.xls' }] });
    expect(store.find('http://user:pw@ons.test/2019/a.xls')?.path).toBe('2019/a.xls');
    expect(store.find('http://ons.test/2020/b.xls')).toBeUndefined();
  });

  it('leaves an intact manifest alone until asked; keeps one entry per URL and per path, ordered by edition then path', async () => {
    const a = await onDisk(2019, 'a.xls', 'a');
    await writeManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://p', updated_at: 'earlier', files: [a] });
    const store = await openManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://p' }, log, () => NOW);
    expect((await readJson(path.join(rawDir, 'manifest.json'))).updated_at).toBe('earlier');

    await store.forget('2099/not-listed.xls');
    expect((await readJson(path.join(rawDir, 'manifest.json'))).updated_at).toBe('earlier');

    const moved = { ...(await onDisk(2019, 'a-renamed.xls', 'a')), url: a.url };
    const later = await onDisk(2018, 'z.xls', 'z');
    const sameEdition = await onDisk(2019, '0.xls', '0');
    await store.record(moved);
    await store.record(later);
    await store.record(sameEdition);
    expect((await readJson(path.join(rawDir, 'manifest.json'))).files.map((f: ManifestEntry) => f.path)).toEqual(['2018/z.xls', '2019/0.xls', '2019/a-renamed.xls']);

    await store.forget('2018/z.xls');
    const saved = await readJson(path.join(rawDir, 'manifest.json'));
    expect(saved.files.map((f: ManifestEntry) => f.path)).toEqual(['2019/0.xls', '2019/a-renamed.xls']);
    expect(saved.updated_at).toBe(NOW.toISOString());
  });

  it('a manifest that cannot be written is a LoadError naming it', async () => {
    await mkdir(path.dirname(rawDir), { recursive: true });
    await writeFile(rawDir, 'a file where the raw folder goes');
    const failure = writeManifest(rawDir, { source: 's', dataset: 'd', updated_at: 'x', files: [] });
    await expect(failure).rejects.toBeInstanceOf(LoadError);
    await expect(failure).rejects.toThrow(`cannot write ${path.join(rawDir, 'manifest.json')}: `);
  });
});

describe('entryMatches', () => {
  it('needs the same size and the same sha256; a missing file does not match', async () => {
    const entry = await onDisk(2019, 'f.xls', 'abc');
    expect(await entryMatches({ rawDir, entry, index: 0 })).toBe(true);
    expect(await entryMatches({ rawDir, entry: { ...entry, bytes: 4 }, index: 0 })).toBe(false);
    expect(await entryMatches({ rawDir, entry: { ...entry, sha256: sha256('abd') }, index: 0 })).toBe(false);
    expect(await entryMatches({ rawDir, entry: { ...entry, path: `${entry.path}.missing` }, index: 0 })).toBe(false);
  });
});

describe('a manifest entry is a record, not an instruction', () => {
  /** A file outside the raw folder, and its entry as a hostile manifest would list it. */
  async function outsideFile(body = 'root:x:0:0:root:/root:/bin/bash\n'): Promise<{ file: string; entry: ManifestEntry }> {
    const file = path.join(work, `outside-${runs}.txt`);
    await writeFile(file, body);
    const entry = { ...(await onDisk(2019, 'placeholder.xls', 'x')), bytes: Buffer.byteLength(body), sha256: sha256(body) };
    return { file, entry };
  }

  it.each([
    ['../../outside', (file: string) => path.relative(rawDir, file).split(path.sep).join('/'), /files\[0\]\.path "\.\.\/.*" is not a relative path inside the raw folder/],
    ['an absolute path', (file: string) => file, /files\[0\]\.path "\/.*" is not a relative path inside the raw folder/],
  ])('%s is refused before the file is opened, naming the manifest and the field', async (_, pathOf, message) => {
    const { file, entry } = await outsideFile();
    const hostile = { ...entry, path: pathOf(file) };
    await expect(readRawEntry({ rawDir, entry: hostile, index: 0 })).rejects.toThrow(message);
    await expect(readRawEntry({ rawDir, entry: hostile, index: 0 })).rejects.toThrow(new RegExp(`^${path.join(rawDir, 'manifest.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    await expect(readRawEntry({ rawDir, entry: hostile, index: 0 })).rejects.toBeInstanceOf(DataError);
  });

  it('a symlink inside the raw folder that leads outside is refused (it resolves to the outside file); its bytes never appear', async () => {
    const { file, entry } = await outsideFile();
    await symlink(file, path.join(rawDir, '2019', 'link.xls'));
    const error = (await readRawEntry({ rawDir, entry: { ...entry, path: '2019/link.xls' }, index: 3 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(/files\[3\]\.path ".*link\.xls" lies outside .* \(it resolves to ".*outside-\d+\.txt"\)$/);
    expect(error.message).not.toContain('root:x');
    // A folder symlinked outside is the same.
    await symlink(work, path.join(rawDir, 'up'));
    await expect(readRawEntry({ rawDir, entry: { ...entry, path: `up/${path.basename(file)}` }, index: 0 })).rejects.toThrow(/lies outside/);
  });

  it('a FIFO in a raw file\'s place is refused at once, not waited on', async () => {
    const entry = await onDisk(2019, 'f.xls', 'abc');
    await rm(path.join(rawDir, entry.path));
    execFileSync('mkfifo', [path.join(rawDir, entry.path)]);
    await expect(readRawEntry({ rawDir, entry, index: 0 })).rejects.toThrow(/"2019\/f\.xls"|is not a regular file/);
    await expect(checkRawEntry({ rawDir, entry, index: 0 })).rejects.toThrow(/is not a regular file/);
  });

  it('bytes that differ from the sha256 the entry holds are refused naming the entry; the right bytes are read once and returned', async () => {
    const entry = await onDisk(2019, 'f.xls', 'abc');
    expect((await readRawEntry({ rawDir, entry, index: 0 })).toString()).toBe('abc');
    await writeFile(path.join(rawDir, entry.path), 'abd');
    await expect(readRawEntry({ rawDir, entry, index: 7 })).rejects.toThrow(/manifest\.json: files\[7\]\.path ".*f\.xls" does not hold the recorded bytes \(sha256 [0-9a-f]{12}…, the record says [0-9a-f]{12}…\)$/);
    await expect(readRawEntry({ rawDir, entry: { ...entry, sha256: 'not a hash' }, index: 7 })).rejects.toThrow(/has no valid bytes and sha256/);
  });

  it('openManifest drops an entry leading outside with one warning naming it, and rewrites the manifest without it', async () => {
    const { file, entry } = await outsideFile();
    const good = await onDisk(2020, 'g.xls', 'good');
    const hostile = { ...entry, path: path.relative(rawDir, file).split(path.sep).join('/') };
    await writeManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://ons.test/', updated_at: NOW.toISOString(), files: [hostile, good] });
    const store = await openManifest(rawDir, { source: 'ons', dataset: 'd', page_url: 'http://ons.test/' }, log, () => NOW);
    expect(store.find(hostile.url)).toBeUndefined();
    expect(lines).toEqual([expect.stringMatching(/^warn: .*manifest\.json: files\[0\]\.path "\.\..*" is not a relative path inside the raw folder; the entry is dropped$/)]);
    expect((await readJson(path.join(rawDir, 'manifest.json'))).files.map((f: ManifestEntry) => f.path)).toEqual(['2020/g.xls']);
    expect(await readFile(file, 'utf8')).toContain('root:x');
  });

  it('recordResponses never deletes outside the raw folder: not through ../, an absolute path, nor a symlinked folder', async () => {
    const victims = await Promise.all(['a', 'b', 'c'].map(async (name) => {
      const file = path.join(work, `victim-${runs}-${name}.txt`);
      await writeFile(file, 'keep me');
      return file;
    }));
    await mkdir(rawDir, { recursive: true });
    await symlink(work, path.join(rawDir, 'up'));
    const entryFor = (p: string): ResponseEntry => ({ path: p, key: p, request: { method: 'GET', url: 'http://api.test/' }, status: 200, bytes: 7, sha256: sha256('keep me'), fetched_at: NOW.toISOString() });
    const earlier = [entryFor(path.relative(rawDir, victims[0]!).split(path.sep).join('/')), entryFor(victims[1]!), entryFor(`up/${path.basename(victims[2]!)}`)];
    await writeManifest(rawDir, { source: 'x', dataset: 'y', updated_at: NOW.toISOString(), files: earlier });
    await recordResponses(rawDir, { source: 'x', dataset: 'y' }, [], { now: NOW, log, replaces: () => true });
    for (const victim of victims) expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^warn: .*manifest\.json: files\[\d\]\.path .*(is not a relative path inside the raw folder|lies outside .*); not removed$/);
  });
});

describe('saveResponse and recordResponses (API answers)', () => {
  const answer = (body: string, url = 'http://api.test/x') => ({ status: 200, body: Buffer.from(body), request: { method: 'GET', url }, fetchedAt: NOW.toISOString() });

  it('writes the body as received and describes it; a body echoing a registered secret is masked before it reaches the disk', async () => {
    const entry = await saveResponse(rawDir, 'one/page.json', 'one', answer('{"a":1}'));
    expect(entry).toEqual({ path: 'one/page.json', key: 'one', request: { method: 'GET', url: 'http://api.test/x' }, status: 200, bytes: 7, sha256: sha256('{"a":1}'), fetched_at: NOW.toISOString() });
    expect(await readFile(path.join(rawDir, 'one/page.json'), 'utf8')).toBe('{"a":1}');

    registerSecret('raw-layer-secret-77');
    const masked = await saveResponse(rawDir, 'echo.json', 'echo', answer('{"token":"raw-layer-secret-77"}'));
    const written = await readFile(path.join(rawDir, 'echo.json'), 'utf8');
    expect(written).toBe('{"token":"REDACTED"}');
    expect(masked).toMatchObject({ secrets_masked: true, bytes: Buffer.byteLength(written), sha256: sha256(written) });
  });

  it('a fresh entry replaces the earlier one with its key, `replaces` drops others, and their files go once the manifest no longer names them', async () => {
    const ids = { source: 'api', dataset: 'd' };
    const first = [await saveResponse(rawDir, 'b.json', 'b', answer('1')), await saveResponse(rawDir, 'c.json', 'c', answer('2')), await saveResponse(rawDir, 'a.json', 'a', answer('3'))];
    const written = await recordResponses(rawDir, ids, first, { now: NOW, log, replaces: () => false });
    expect(written.files.map((f) => f.path)).toEqual(['a.json', 'b.json', 'c.json']);

    const renamedB = await saveResponse(rawDir, 'b2.json', 'b', answer('4'));
    const manifest = await recordResponses(rawDir, ids, [renamedB], { now: new Date(NOW.getTime() + 1000), log, replaces: (earlier: ResponseEntry) => earlier.key === 'c' });
    expect(manifest).toEqual({ ...ids, updated_at: '2024-03-01T12:00:01.000Z', files: [first[2], renamedB] });
    expect(await readJson(path.join(rawDir, 'manifest.json'))).toEqual(manifest);
    expect((await readdir(rawDir)).sort()).toEqual(['a.json', 'b2.json', 'manifest.json']);
    expect(await readFile(path.join(rawDir, 'manifest.json'), 'utf8')).toMatch(/\n}\n$/);

    // A replaced file someone already removed by hand is no reason to fail.
    await rm(path.join(rawDir, 'b2.json'));
    const fresh = await saveResponse(rawDir, 'a.json', 'a', answer('5'));
    await expect(recordResponses(rawDir, ids, [fresh], { now: NOW, log, replaces: () => true })).resolves.toMatchObject({ files: [fresh] });
    expect((await readdir(rawDir)).sort()).toEqual(['a.json', 'manifest.json']);
  });
});
