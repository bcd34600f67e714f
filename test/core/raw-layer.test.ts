import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoadError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { registerSecret } from '../../src/core/redact.js';
import { fileMatches, openManifest, readManifest, recordResponses, saveResponse, writeManifest, type ManifestEntry, type ResponseEntry } from '../../src/core/raw-layer.js';

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

describe('fileMatches', () => {
  it('needs the same size and the same sha256; a missing file does not match', async () => {
    const entry = await onDisk(2019, 'f.xls', 'abc');
    const file = path.join(rawDir, entry.path);
    expect(await fileMatches(file, entry)).toBe(true);
    expect(await fileMatches(file, { ...entry, bytes: 4 })).toBe(false);
    expect(await fileMatches(file, { ...entry, sha256: sha256('abd') })).toBe(false);
    expect(await fileMatches(`${file}.missing`, entry)).toBe(false);
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
