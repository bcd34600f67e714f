import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peoplePage, personAt } from '../fixtures/random-person/people.js';
import { expectFaultsHandled } from '../helpers/api-faults.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * random-person end to end: the CLI against a randomuser.me look-alike on 127.0.0.1. The built CLI runs as a process
 * for 12,000 people end to end, for the cancelled pages (the process ends only once they are), offline, and for
 * the transforms of hostile values (the process's own stack); the other runs go through the CLI's `main` in this
 * process (test/helpers/cli-in-process.ts), the extracts that fetch those values too.
 */
const bed = useApiTestbed('random-person', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')), nat: q.get('nat') ?? undefined }) };
});

const extractArgs = (extra: string[]) => ['extract', 'random-person', 'people', '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--rate-limit', '0', ...extra];
const transformArgs = (extra: string[]) => ['transform', 'random-person', 'people', '--data-dir', bed.dataDir, ...extra];
const extract = (...extra: string[]) => runCliInProcess(extractArgs(extra));
const transform = (...extra: string[]) => runCliInProcess(transformArgs(extra));
const extractProcess = (...extra: string[]) => runCli(extractArgs(extra));
const transformProcess = (...extra: string[]) => runCli(transformArgs(extra));

describe('etl extract/transform random-person', () => {
  it('paginates 12,000 people as 3 pages of one seed, and the parquet holds them typed and flattened', async () => {
    const extracted = await extractProcess('--count', '12000', '--seed', 'etl', '--nat', 'gb', '--nat', 'br');
    expect(extracted.code).toBe(0);
    expect(extracted.stderr).not.toMatch(/warn|error/);
    const pages = bed.server.requests.map((r) => Object.fromEntries(r.url.searchParams));
    expect(pages).toEqual([
      { results: '5000', seed: 'etl', page: '1', nat: 'gb,br' },
      { results: '5000', seed: 'etl', page: '2', nat: 'gb,br' },
      { results: '2000', seed: 'etl', page: '3', nat: 'gb,br' },
    ]);
    expect(bed.server.requests[0]!.headers['user-agent']).toMatch(/^etl-parquet\/\d+\.\d+\.\d+ /);

    const rawDir = path.join(bed.dataDir, 'raw', 'random-person', 'people');
    const manifest = JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(3);
    const first = manifest.files[0];
    expect(first).toMatchObject({ path: 'page-00001.json', status: 200, request: { method: 'GET', url: `${bed.server.url}/api/?results=5000&seed=etl&page=1&nat=gb%2Cbr` } });
    // The body as received: byte for byte what the server sent.
    expect(await readFile(path.join(rawDir, first.path), 'utf8')).toBe(peoplePage({ results: 5000, seed: 'etl', page: 1, nat: 'gb,br' }));
    expect(first.bytes).toBe((await readFile(path.join(rawDir, first.path))).length);

    const out = path.join(bed.dataDir, 'people.parquet');
    const transformed = await transformProcess('--out', out);
    expect(transformed.code).toBe(0);
    expect(transformed.stdout).toContain('transform: 12000 rows from 3 files');
    const { columns, rows } = await readParquet(out);
    expect(rows).toHaveLength(12000);
    const type = (name: string) => columns.find((c) => c.name === name);
    expect(type('uuid')).toMatchObject({ type: 'BYTE_ARRAY', logical: 'UTF8' });
    expect(type('dob')).toMatchObject({ type: 'INT64', logical: 'TIMESTAMP' });
    expect(type('dob_age')).toMatchObject({ type: 'INT32' });
    expect(type('location_coordinates_latitude')).toMatchObject({ type: 'DOUBLE' });
    expect(type('location_postcode')).toMatchObject({ type: 'BYTE_ARRAY', logical: 'UTF8' });
    expect(type('location_street_number')).toMatchObject({ type: 'INT64' });
    expect(type('extracted_at')).toMatchObject({ type: 'INT64', logical: 'TIMESTAMP' });
    expect(columns.map((c) => c.name).filter((name) => /password|salt|md5|sha/.test(name))).toEqual([]);

    // A few rows, field by field, against what the server generated: pages keep their order.
    for (const [page, index] of [[1, 0], [1, 4], [2, 7], [3, 1999]] as const) {
      const person = personAt('etl', page, index, 'gb,br') as any;
      const row = rows[(page - 1) * 5000 + index]!;
      const street = typeof person.location.street === 'string' ? { number: Number(person.location.street.split(' ')[0]), name: person.location.street.replace(/^\d+ /, '') } : person.location.street;
      expect(row).toMatchObject({
        uuid: person.login.uuid,
        name_first: person.name.first,
        location_city: person.location.city,
        location_postcode: String(person.location.postcode),
        location_street_number: BigInt(street.number),
        location_street_name: street.name,
        location_coordinates_latitude: Number(person.location.coordinates.latitude),
        dob: new Date(person.dob.date),
        dob_age: person.dob.age,
        id_value: person.id.value,
        nat: person.nat,
        source_file: `raw/random-person/people/page-0000${page}.json`,
        extracted_at: new Date(manifest.files[page - 1].fetched_at),
      });
    }
    // The instant is stored as UTC (isAdjustedToUTC), not as a local wall-clock time.
    const metadata = await import('hyparquet').then(async ({ parquetMetadataAsync }) => {
      const bytes = await readFile(out);
      return parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    });
    const dob = metadata.schema.find((e) => e.name === 'dob')!;
    expect(dob.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });

    // Same raw input, same file: extracted_at comes from the manifest, not the clock.
    const again = path.join(bed.dataDir, 'again.parquet');
    await transform('--out', again);
    expect((await readFile(again)).equals(await readFile(out))).toBe(true);
  });

  it('--with-credentials keeps the credential-like fields; --help says they are dropped by default', async () => {
    expect((await extract('--count', '3', '--seed', 's')).code).toBe(0);
    const out = path.join(bed.dataDir, 'with.parquet');
    expect((await transform('--out', out, '--with-credentials')).code).toBe(0);
    const { rows } = await readParquet(out);
    expect(rows[0]!.login_password).toBe((personAt('s', 1, 0) as any).login.password);
    const [help, transformHelp] = await Promise.all([runCliInProcess(['extract', 'random-person', '--help']), runCliInProcess(['transform', 'random-person', '--help'])]);
    for (const text of ['--count <n>', '--seed <seed>', '--nat <codes>', '--base-url <url>', 'RANDOM_PERSON_BASE_URL', 'DROPPED by default', '--rate-limit']) expect(help.stdout).toContain(text);
    expect(transformHelp.stdout).toContain('--with-credentials');
  });

  it('etl run does extract and transform in one go, with the source\'s own options', async () => {
    const result = await runCliInProcess(['run', 'random-person', '--count', '7', '--seed', 'run', '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--with-credentials']);
    expect(result.code).toBe(0);
    const { rows } = await readParquet(path.join(bed.dataDir, 'processed', 'random-person', 'people.parquet'));
    expect(rows.map((r) => r.uuid)).toEqual(Array.from({ length: 7 }, (_, i) => (personAt('run', 1, i) as any).login.uuid));
    expect(rows[0]!.login_md5).toBe((personAt('run', 1, 0) as any).login.md5);
  });

  it("refuses another source's option, and bad values, with a usage error", async () => {
    // Three usage errors, started together: none of them may reach the server.
    const [foreign, bad, nat] = await Promise.all([extract('--city', '3477'), extract('--count', 'lots'), extract('--nat', 'gbr')]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/unknown option '--city'.*etl extract random-person --help/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option '--count <n>' argument "lots" is invalid/);
    expect(nat.code).toBe(2);
    expect(nat.stderr).toContain('two-letter nationality codes');
    expect(bed.server.requests).toEqual([]);
  });

  it('rides out or reports every server fault; a body that is not JSON leaves the raw layer as it was', async () => {
    const good = peoplePage({ results: 4, seed: 'f', page: 1 });
    await expectFaultsHandled(bed.server, '/api/', good, () => extract('--count', '4', '--seed', 'f'), /the API refused the request|answered HTTP 401/);

    expect((await extract('--count', '1', '--seed', 'good')).code).toBe(0);
    const rawDir = path.join(bed.dataDir, 'raw', 'random-person', 'people');
    const before = await readFile(path.join(rawDir, 'page-00001.json'), 'utf8');
    bed.server.queue('/api/', { status: 200, body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } });
    const html = await extract('--count', '1', '--seed', 'other');
    expect(html.code).toBe(3);
    expect(await readFile(path.join(rawDir, 'page-00001.json'), 'utf8')).toBe(before);
    expect((await readdir(rawDir)).sort()).toEqual(['manifest.json', 'page-00001.json']);
  });

  it('a page refused while others are in flight: they are cancelled at once (no retry after it), and the page that completed is in the manifest', async () => {
    // Page 1 answers at once, page 2 is refused once page 1 is on disk (and 300 ms more), page 3 would take 20 s.
    // (A fixed 300 ms was too short for page 1 on a loaded machine: it was cancelled too, and the manifest empty.)
    const rawDir = path.join(bed.dataDir, 'raw', 'random-person', 'people');
    const started = Date.now();
    const pageOne = path.join(rawDir, 'page-00001.json');
    const modified = async (): Promise<number | undefined> => (await stat(pageOne).catch(() => null))?.mtimeMs;
    const earlier = await modified(); // an earlier test's page 1, replaced by this run's
    const pageOneWritten = (async () => {
      while ((await modified()) === earlier) await new Promise((resolve) => setTimeout(resolve, 20));
    })();
    bed.server.queue('/api/?results=5000&seed=cut&page=2', { ...json(401, { error: 'invalid key' }), after: pageOneWritten, delayMs: 300 });
    bed.server.queue('/api/?results=2000&seed=cut&page=3', { status: 200, body: peoplePage({ results: 2000, seed: 'cut', page: 3 }), delayMs: 20_000 });
    const result = await extractProcess('--count', '12000', '--seed', 'cut');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/page=2 answered HTTP 401/);
    expect(result.stderr).not.toMatch(/retry \d|UND_ERR|internal error/);
    expect(Date.now() - started).toBeLessThan(10_000); // 21.8 s before: page 3 took its 20 s, then retries
    const manifest = JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(['page-00001.json']);
    expect((await readdir(rawDir)).filter((name) => !name.startsWith('.')).sort()).toEqual(['manifest.json', 'page-00001.json']);
    const out = path.join(bed.dataDir, 'partial.parquet');
    expect((await transform('--out', out)).code).toBe(0);
    expect((await readParquet(out)).rows).toHaveLength(5000);
  });

  it('offline (a host that does not resolve), 8 pages at once: one error line, no retry of the pages cancelled after it', async () => {
    const started = Date.now();
    const result = await runCli(['extract', 'random-person', 'people', '--count', '40000', '--seed', 'etl', '--concurrency', '8', '--base-url', 'http://etl-test.invalid', '--data-dir', bed.dataDir]);
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: source error: GET http:\/\/etl-test\.invalid\/api\/\?results=5000&seed=etl&page=\d: cannot resolve host etl-test\.invalid \((ENOTFOUND|EAI_AGAIN)\)/)]);
    expect(Date.now() - started).toBeLessThan(10_000); // 14.4 s before, with UND_ERR_DESTROYED retries of page 2
  });

  it('Retry-After: 999999, or a date a day ahead: exit 3 at once naming the time the server asked for, not 60 s a retry', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toUTCString();
    for (const [retryAfter, asked] of [['999999', '11.6 days'], [tomorrow, '24 h']] as const) {
      bed.server.queue('/api/', { ...json(429, { error: 'slow down' }), headers: { 'retry-after': retryAfter } });
      const started = Date.now();
      const result = await extract('--count', '10', '--seed', 'later');
      expect(result.code).toBe(3);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(result.stderr).toContain(`answered HTTP 429 and asks to be retried in ${asked} (Retry-After: ${retryAfter}), longer than etl waits before a retry (60 s); not retried (the server asks to be left alone until `);
      expect(result.stderr).not.toMatch(/retry 1\//);
    }
    expect(bed.server.requests).toHaveLength(2);
  });

  it('reports schema drift once, fails on a missing uuid naming file and path, and writes 0 rows as a valid file', async () => {
    const drifted = JSON.parse(peoplePage({ results: 3, seed: 'd', page: 1 }));
    for (const person of drifted.results) person.favourite = { colour: 'green' };
    bed.server.queue('/api/', { status: 200, body: JSON.stringify(drifted) });
    expect((await extract('--count', '3', '--seed', 'd')).code).toBe(0);
    const warned = await transform('--out', path.join(bed.dataDir, 'd.parquet'));
    expect(warned.code).toBe(0);
    expect(warned.stderr.match(/schema drift/g)).toHaveLength(1);
    expect(warned.stderr).toContain('favourite.colour at $.results[*].favourite.colour (e.g. "green")');

    delete drifted.results[2].login.uuid;
    bed.server.queue('/api/', { status: 200, body: JSON.stringify(drifted) });
    expect((await extract('--count', '3', '--seed', 'd')).code).toBe(0);
    const missing = await transform('--out', path.join(bed.dataDir, 'm.parquet'));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('raw/random-person/people/page-00001.json: $.results[2].login.uuid is missing');

    bed.server.queue('/api/', { status: 200, body: JSON.stringify({ results: [], info: {} }) });
    expect((await extract('--count', '3', '--seed', 'e')).code).toBe(0);
    const empty = path.join(bed.dataDir, 'empty.parquet');
    expect((await transform('--out', empty)).code).toBe(0);
    const { columns, rows } = await readParquet(empty);
    expect(rows).toEqual([]);
    expect(columns.map((c) => c.name)).toContain('uuid');
    expect(columns.at(-1)!.name).toBe('source_file');
  });

  it('hostile values: nesting thousands deep, 1e400: each one data error (exit 4) naming file and path; the previous output stays', async () => {
    const out = path.join(bed.dataDir, 'people.parquet');
    expect((await extract('--count', '2', '--seed', 'h')).code).toBe(0);
    expect((await transform('--out', out)).code).toBe(0);
    const before = await readFile(out);
    const page = (edit: (person: any) => void): string => {
      const body = JSON.parse(peoplePage({ results: 2, seed: 'h', page: 1 }));
      edit(body.results[1]);
      return JSON.stringify(body);
    };
    for (const [body, message] of [
      [page((p) => (p.extra = 'DEEP')).replace('"DEEP"', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)), '$.results[1].extra.a.a.a.a.a.a.a.a.a… is nested more than 64 levels deep'],
      [page((p) => (p.location.coordinates.latitude = 'BIG')).replace('"BIG"', '1e400'), '$.results[1].location.coordinates.latitude is 1e400, expected a number that fits a DOUBLE'],
    ] as const) {
      bed.server.queue('/api/', { status: 200, body });
      expect((await extract('--count', '2', '--seed', 'h')).code).toBe(0);
      const result = await transformProcess('--out', out);
      expect(result.code, message).toBe(4);
      expect(result.stderr).toContain(`etl: data error: raw/random-person/people/page-00001.json: ${message}`);
      expect(result.stderr).not.toMatch(/internal error|Maximum call stack/);
      expect((await readFile(out)).equals(before)).toBe(true);
    }
  });
});
