import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/core/errors.js';
import { randomPerson } from '../../src/sources/random-person.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { FIXED_NOW, capturedIO, type CapturedIO } from '../helpers/source-io.js';
import { tableRows } from '../helpers/table-rows.js';

/** random-person's extract in-process (Stryker sees it) against the randomuser.me look-alike the e2e test uses. */
const bed = useApiTestbed('random-person-unit', (request) => {
  if (!/^\/(mirror\/)?api\/\?/.test(request.path)) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')), nat: q.get('nat') ?? undefined }) };
});
let io: CapturedIO;
beforeEach(() => {
  io = capturedIO({ retries: 0 });
});
afterEach(async () => {
  await io.close();
});

const extract = (options: { count: number; seed?: string; nat?: string[] }, baseUrl = bed.server.url) =>
  randomPerson.extract({ dataset: 'people', dataDir: bed.dataDir, baseUrl, concurrency: 1, rateLimit: 0, options }, io);
const rawDir = () => path.join(bed.dataDir, 'raw', 'random-person', 'people');
const queries = () => bed.server.requests.map((r) => Object.fromEntries(r.url.searchParams));

describe('randomPerson.extract', () => {
  it('asks for pages of at most 5,000 people of one seed, and keeps each page as received, listed in the manifest', async () => {
    const report = await extract({ count: 5003, seed: 'etl', nat: ['GB', 'br'] });
    expect(queries()).toEqual([
      { results: '5000', seed: 'etl', page: '1', nat: 'gb,br' },
      { results: '3', seed: 'etl', page: '2', nat: 'gb,br' },
    ]);
    const page2 = peoplePage({ results: 3, seed: 'etl', page: 2, nat: 'gb,br' });
    expect(await readFile(path.join(rawDir(), 'page-00002.json'), 'utf8')).toBe(page2);
    const url = (page: number, results: number) => `${bed.server.url}/api/?results=${results}&seed=etl&page=${page}&nat=gb%2Cbr`;
    expect(report).toEqual({
      source: 'random-person',
      dataset: 'people',
      url: bed.server.url,
      rawDir: rawDir(),
      files: [
        { file: 'page-00001.json', url: url(1, 5000), status: 'downloaded', bytes: Buffer.byteLength(peoplePage({ results: 5000, seed: 'etl', page: 1, nat: 'gb,br' })) },
        { file: 'page-00002.json', url: url(2, 3), status: 'downloaded', bytes: Buffer.byteLength(page2) },
      ],
    });
    const manifest = JSON.parse(await readFile(path.join(rawDir(), 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ source: 'random-person', dataset: 'people', updated_at: FIXED_NOW.toISOString() });
    expect(manifest.files.map((f: { key: string; path: string }) => [f.key, f.path])).toEqual([['page-1', 'page-00001.json'], ['page-2', 'page-00002.json']]);
    expect(io.lines.filter((line) => /^(warn|error):/.test(line))).toEqual([]);
    expect(io.lines).toContain('debug: people: 0/2 pages');
    expect(io.lines).toContain('debug: people: 2 pages, 5003 people asked for');
    expect(io.lines).toContain(`debug: GET ${url(2, 3)}: ${Buffer.byteLength(page2)} bytes -> ${path.join(rawDir(), 'page-00002.json')}`);
  });

  it('without --seed, uses one random seed for every page and logs it; a re-run replaces the pages of the run before', async () => {
    await extract({ count: 5001 });
    const seeds = queries().map((q) => q.seed);
    expect(seeds[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(seeds).toEqual([seeds[0], seeds[0]]);
    expect(queries()[0]!.nat).toBeUndefined();
    expect(io.lines).toContain(`random-person: no --seed given, using ${seeds[0]} (pass --seed ${seeds[0]} to get the same people again)`);

    await extract({ count: 2, seed: 'again' });
    expect(io.lines.filter((line) => line.includes('no --seed given'))).toHaveLength(1);
    expect((await readdir(rawDir())).sort()).toEqual(['manifest.json', 'page-00001.json']);
    expect(await readFile(path.join(rawDir(), 'page-00001.json'), 'utf8')).toBe(peoplePage({ results: 2, seed: 'again', page: 1 }));
  });

  it('follows a --base-url with a path, with or without its trailing slash', async () => {
    await extract({ count: 1, seed: 's' }, `${bed.server.url}/mirror`);
    await extract({ count: 1, seed: 's' }, `${bed.server.url}/mirror/`);
    expect(bed.server.requests.map((r) => r.url.pathname)).toEqual(['/mirror/api/', '/mirror/api/']);
  });

  it('an error answer, or one without results, is a source error and nothing is written; a short page is a warning', async () => {
    bed.server.queue('/api/', json(200, { error: 'Uh oh, something has gone wrong.' }));
    const failed = extract({ count: 1, seed: 's' });
    await expect(failed).rejects.toSatisfy((error: SourceError) => error instanceof SourceError && error.retriable && error.hint === 'try again later');
    await expect(failed).rejects.toThrow('randomuser.me answered an error: Uh oh, something has gone wrong.');
    bed.server.queue('/api/', json(200, { info: {} }));
    const empty = extract({ count: 1, seed: 's' });
    await expect(empty).rejects.toSatisfy((error: SourceError) => !error.retriable && /check --base-url/.test(error.hint ?? ''));
    await expect(empty).rejects.toThrow('page 1: the answer has no results list');
    await expect(readdir(rawDir())).rejects.toThrow(/ENOENT/);

    bed.server.queue('/api/', { status: 200, body: peoplePage({ results: 2, seed: 's', page: 1 }) });
    await extract({ count: 3, seed: 's' });
    expect(io.lines).toContain('warn: page 1: asked for 3 people, got 2');
  });
});

describe('randomPerson.transform', () => {
  it('drops the credential-like fields unless --with-credentials', async () => {
    await extract({ count: 2, seed: 't' });
    const transform = (withCredentials: boolean) => tableRows(randomPerson.transform({ dataset: 'people', dataDir: bed.dataDir, options: { withCredentials } }, io));
    const plain = await transform(false);
    expect(plain).toHaveLength(2);
    expect(Object.keys(plain[0]!.row).filter((name) => /password|salt|md5|sha/.test(name))).toEqual([]);
    const person = JSON.parse(peoplePage({ results: 2, seed: 't', page: 1 })).results[1];
    expect((await transform(true))[1]!.row).toMatchObject({ uuid: person.login.uuid, login_password: person.login.password, login_sha256: person.login.sha256 });
  });

  it('a street or postcode sent as a number too long for a double: the postcode kept as written, the street refused', async () => {
    const page = JSON.parse(peoplePage({ results: 2, seed: 'n', page: 1 }));
    page.results[0].location.postcode = 'POSTCODE';
    page.results[1].location.street = 'STREET';
    const body = JSON.stringify(page).replace('"POSTCODE"', '12345678901234567891');
    bed.server.queue('/api/', { status: 200, body });
    await extract({ count: 2, seed: 'n' });
    const transform = () => tableRows(randomPerson.transform({ dataset: 'people', dataDir: bed.dataDir, options: { withCredentials: false } }, io));
    expect((await transform()).map(({ row }) => row.location_postcode)).toEqual(['12345678901234567891', String(page.results[1].location.postcode)]);
    bed.server.queue('/api/', { status: 200, body: body.replace('"STREET"', '12345678901234567891') });
    await extract({ count: 2, seed: 'n' });
    await expect(transform()).rejects.toThrow('raw/random-person/people/page-00001.json: $.results[1].location.street is 12345678901234567891, expected a street number for column location_street_number');
  });

  it('a default transform never names a credential-like field, in a drift warning or anywhere else', async () => {
    await extract({ count: 3, seed: 'c' });
    const page = JSON.parse(peoplePage({ results: 3, seed: 'c', page: 1 }));
    const login = page.results[0].login;
    // The fixture sends every one of them, as randomuser.me does.
    expect(Object.keys(login).sort()).toEqual(['md5', 'password', 'salt', 'sha1', 'sha256', 'username', 'uuid']);
    io.lines.length = 0;
    expect(await tableRows(randomPerson.transform({ dataset: 'people', dataDir: bed.dataDir, options: { withCredentials: false } }, io))).toHaveLength(3);
    expect(io.lines.filter((line) => /drift|password|salt|md5|sha1|sha256/.test(line))).toEqual([]);
    for (const field of ['password', 'salt', 'md5', 'sha1', 'sha256']) expect(io.lines.join('\n')).not.toContain(String(login[field]));
  });
});
