import { z } from 'zod';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, SourceError } from '../../src/core/errors.js';
import { climatempo } from '../../src/sources/climatempo.js';
import { dailyAnswer, hourlyAnswer, type City } from '../fixtures/climatempo/forecasts.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { capturedIO, type CapturedIO } from '../helpers/source-io.js';
import { tableRows } from '../helpers/table-rows.js';

/** climatempo's extract in-process (Stryker sees it) against an API Advisor look-alike, as in test/e2e/climatempo.test.ts. */
const TOKEN = 'ct-unit-token-5d1e';
const CITIES = new Map<string, City>([
  ['3477', { id: 3477, name: 'São Paulo', state: 'SP', country: 'BR' }],
  ['5959', { id: 5959, name: 'Manaus', state: 'AM', country: 'BR' }],
  ['3478', { id: 3478, name: 'Santos', state: 'SP', country: 'BR' }],
]);
let registered: Set<string>;

const bed = useApiTestbed('climatempo-unit', (raw) => {
  // A copy of the API may live under a path (--base-url http://host/mirror).
  const request = { ...raw, url: new URL(raw.url.href.replace('/mirror/', '/')), path: raw.path.replace(/^\/mirror\//, '/') };
  if (request.url.searchParams.get('token') !== TOKEN && !request.path.startsWith('/api-manager/')) return json(401, { error: true, detail: 'Invalid token' });
  const registration = /^\/api-manager\/user-token\/([^/]+)\/locales$/.exec(request.url.pathname);
  if (registration && request.method === 'PUT') {
    registered.add(new URLSearchParams(request.body).get('localeId[]')!);
    return json(200, { status: 'success' });
  }
  const forecast = /^\/api\/v1\/forecast\/locale\/(\d+)\/(hours\/72|days\/15)$/.exec(request.url.pathname);
  if (forecast) {
    const city = CITIES.get(forecast[1]!)!;
    if (!registered.has(forecast[1]!)) return json(400, { error: true, detail: `Access forbidden, you have no acces for this locale: ${forecast[1]}` });
    return json(200, forecast[2] === 'hours/72' ? hourlyAnswer(city, '2024-02-02 00:00:00', 3) : dailyAnswer(city, '2024-02-02', 2));
  }
  if (request.url.pathname === '/api/v1/locale/city') return json(200, [...CITIES.values()]);
  return json(404, { error: true, detail: 'Not found' });
});
let io: CapturedIO;
beforeEach(() => {
  registered = new Set(['3477', '3478']);
  vi.stubEnv('CLIMATEMPO_TOKEN', TOKEN);
  io = capturedIO({ retries: 0 });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await io.close();
});

type Options = { city?: string[]; name?: string; state?: string; country?: string };
const extract = (dataset: string, options: Options, shard?: { index: number; count: number }) =>
  climatempo.extract({ dataset, dataDir: bed.dataDir, baseUrl: bed.server.url, concurrency: 1, rateLimit: 0, options, shard }, io);
const rawDir = (dataset: string) => path.join(bed.dataDir, 'raw', 'climatempo', dataset);
const manifestOf = async (dataset: string) => JSON.parse(await readFile(path.join(rawDir(dataset), 'manifest.json'), 'utf8'));
const sent = () => bed.server.requests.map((r) => `${r.method} ${r.url.pathname}`);

describe('climatempo.extract', () => {
  it('forecast-hourly: one raw file per city (duplicates once), an unregistered city registered once and asked again; no token on disk', async () => {
    const report = await extract('forecast-hourly', { city: ['3477', '5959', '3477'] });
    expect(sent()).toEqual([
      'GET /api/v1/forecast/locale/3477/hours/72',
      'GET /api/v1/forecast/locale/5959/hours/72',
      `PUT /api-manager/user-token/${TOKEN}/locales`,
      'GET /api/v1/forecast/locale/5959/hours/72',
    ]);
    expect(new URLSearchParams(bed.server.requests[2]!.body).getAll('localeId[]')).toEqual(['5959']);
    expect(io.lines).toContain('climatempo: city 5959 is not registered to this token; registering it and trying once more');
    expect(io.lines).toContain('debug: forecast-hourly: 0/2 cities');
    expect(io.lines).toContain('debug: forecast-hourly: 2 cities');
    expect(report.files.map((f) => [f.file, f.url, f.status])).toEqual([
      ['3477.json', `${bed.server.url}/api/v1/forecast/locale/3477/hours/72`, 'downloaded'],
      ['5959.json', `${bed.server.url}/api/v1/forecast/locale/5959/hours/72`, 'downloaded'],
    ]);
    expect(JSON.parse(await readFile(path.join(rawDir('forecast-hourly'), '5959.json'), 'utf8'))).toEqual(hourlyAnswer(CITIES.get('5959')!, '2024-02-02 00:00:00', 3));
    expect((await manifestOf('forecast-hourly')).files.map((f: { key: string }) => f.key)).toEqual(['3477', '5959']);
    for (const name of await readdir(rawDir('forecast-hourly'))) expect(await readFile(path.join(rawDir('forecast-hourly'), name), 'utf8')).not.toContain(TOKEN);
    expect(io.lines.join('\n')).not.toContain(TOKEN);
  });

  it('forecast-daily asks for 15 days; a later run for one city keeps the other cities already extracted', async () => {
    await extract('forecast-daily', { city: ['3477', '3478'] });
    await extract('forecast-daily', { city: ['3478'] });
    expect(sent()).toEqual(['GET /api/v1/forecast/locale/3477/days/15', 'GET /api/v1/forecast/locale/3478/days/15', 'GET /api/v1/forecast/locale/3478/days/15']);
    expect((await manifestOf('forecast-daily')).files.map((f: { path: string }) => f.path)).toEqual(['3477.json', '3478.json']);
  });

  it('--shard i/n takes the cities whose id mod n is i; a shard with none does nothing; no --city at all is a usage error', async () => {
    const report = await extract('forecast-hourly', { city: ['3477', '3478', '5959'] }, { index: 1, count: 2 });
    expect(report.files.map((f) => f.file)).toEqual(['3477.json', '5959.json']);
    bed.server.requests.length = 0;
    const idle = await extract('forecast-hourly', { city: ['3477', '5959'] }, { index: 0, count: 2 });
    expect(idle.files).toEqual([]);
    expect(bed.server.requests).toEqual([]);
    expect(io.lines).toContain("shard 0/2: none of the 2 cities is this shard's");
    const missing = extract('forecast-hourly', {});
    await expect(missing).rejects.toBeInstanceOf(ConfigError);
    await expect(missing).rejects.toThrow('climatempo forecast-hourly needs --city');
    await expect(missing).rejects.toHaveProperty('hint', 'e.g. --city 3477 (São Paulo); `etl extract climatempo cities --state SP` lists the ids');
  });

  it('a missing token is a usage error naming the variable; a refusal that is about the token names it in the hint', async () => {
    vi.stubEnv('CLIMATEMPO_TOKEN', '');
    const unset = extract('forecast-hourly', { city: ['3477'] });
    await expect(unset).rejects.toBeInstanceOf(ConfigError);
    await expect(unset).rejects.toThrow('CLIMATEMPO_TOKEN is not set: it holds the ClimaTempo API Advisor token');
    vi.stubEnv('CLIMATEMPO_TOKEN', TOKEN);

    bed.server.queue('/api/v1/forecast', json(403, { error: true, detail: 'token expired for this locale' }));
    const refused = extract('forecast-hourly', { city: ['3477'] });
    await expect(refused).rejects.toSatisfy((error: SourceError) => error instanceof SourceError && error.hint === 'check CLIMATEMPO_TOKEN (environment or .env in the working directory)');
    await expect(refused).rejects.toThrow(/answered HTTP 403: \{"error":true,"detail":"token expired for this locale"\}$/);
    expect(bed.server.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('"not registered" comes as 400 or 403; an answer that only mentions a locale is not one; an unknown city says what to check', async () => {
    registered.delete('3477');
    bed.server.queue('/api/v1/forecast', json(403, { error: true, detail: 'Access forbidden, no access for this locale' }));
    await extract('forecast-daily', { city: ['3477'] });
    expect(sent()).toEqual(['GET /api/v1/forecast/locale/3477/days/15', `PUT /api-manager/user-token/${TOKEN}/locales`, 'GET /api/v1/forecast/locale/3477/days/15']);

    bed.server.requests.length = 0;
    bed.server.queue('/api/v1/forecast', json(200, { id: 3477, name: 'localidade 3477', data: [] }));
    await extract('forecast-daily', { city: ['3477'] });
    expect(sent()).toEqual(['GET /api/v1/forecast/locale/3477/days/15']);

    bed.server.queue('/api/v1/forecast', json(404, { error: true, detail: 'Not found' }));
    await expect(extract('forecast-daily', { city: ['9999'] })).rejects.toHaveProperty('hint', 'check the ids asked for, and --base-url / CLIMATEMPO_BASE_URL');
  });

  it('follows a --base-url with a path, with or without its trailing slash', async () => {
    for (const base of [`${bed.server.url}/mirror`, `${bed.server.url}/mirror/`]) {
      await climatempo.extract({ dataset: 'forecast-daily', dataDir: bed.dataDir, baseUrl: base, concurrency: 1, rateLimit: 0, options: { city: ['3477'] } }, io);
    }
    expect(bed.server.requests.map((r) => r.url.pathname)).toEqual(['/mirror/api/v1/forecast/locale/3477/days/15', '/mirror/api/v1/forecast/locale/3477/days/15']);
  });

  it('an answer without a data list is a source error and no file is written for it', async () => {
    bed.server.queue('/api/v1/forecast', json(200, { id: 3477, detail: 'nothing' }));
    const failed = extract('forecast-hourly', { city: ['3477'] });
    await expect(failed).rejects.toSatisfy((error: SourceError) => error instanceof SourceError && /check --base-url/.test(error.hint ?? ''));
    await expect(failed).rejects.toThrow(`GET ${bed.server.url}/api/v1/forecast/locale/3477/hours/72: city 3477: the answer has no data list`);
    await expect(readdir(rawDir('forecast-hourly'))).rejects.toThrow(/ENOENT/);
  });

  it('cities: by name, by state (upper-cased), else the whole country (BR by default); each run replaces the list', async () => {
    await extract('cities', { name: 'Santos' });
    await extract('cities', { state: 'sp' });
    await extract('cities', { country: 'ar' });
    const report = await extract('cities', {});
    const asked = bed.server.requests.map((r) => Object.fromEntries([...r.url.searchParams].filter(([name]) => name !== 'token')));
    expect(asked).toEqual([{ name: 'Santos' }, { state: 'SP' }, { country: 'AR' }, { country: 'BR' }]);
    expect(report.files.map((f) => f.file)).toEqual(['cities.json']);
    expect((await manifestOf('cities')).files.map((f: { key: string; request: { url: string } }) => [f.key, f.request.url])).toEqual([['cities', `${bed.server.url}/api/v1/locale/city?country=BR`]]);
    expect(io.lines).toContain(`climatempo cities: ${Buffer.byteLength(JSON.stringify([...CITIES.values()]))} bytes`);
    bed.server.queue('/api/v1/locale/city', json(200, { error: 'not a list' }));
    await expect(extract('cities', {})).rejects.toThrow(/expected a list of cities/);
  });
});

describe('climatempo.transform', () => {
  const transform = (dataset: string, options: { timezone?: string } = {}, shard?: { index: number; count: number }) =>
    climatempo.transform({ dataset, dataDir: bed.dataDir, options, shard }, io);

  it("reads each dataset's own files; local times in the zone of the city's state unless --timezone; --shard keeps its cities' rows", async () => {
    await extract('forecast-hourly', { city: ['3477', '3478'] });
    await extract('forecast-daily', { city: ['3477'] });
    await extract('cities', {});
    const hourly = await tableRows(transform('forecast-hourly'));
    expect(hourly.map(({ part }) => part)).toEqual([...Array(3).fill('raw/climatempo/forecast-hourly/3477.json'), ...Array(3).fill('raw/climatempo/forecast-hourly/3478.json')]);
    // 00:00 in São Paulo (UTC-3 in 2024) is 03:00Z; read as UTC it stays 00:00Z.
    expect((hourly[0]!.row.forecast_at as Date).toISOString()).toBe('2024-02-02T03:00:00.000Z');
    expect(((await tableRows(transform('forecast-hourly', { timezone: 'UTC' })))[0]!.row.forecast_at as Date).toISOString()).toBe('2024-02-02T00:00:00.000Z');
    expect(new Set((await tableRows(transform('forecast-hourly', {}, { index: 0, count: 2 }))).map(({ row }) => row.city_id))).toEqual(new Set([3478]));

    const daily = await transform('forecast-daily');
    expect(daily.schema.name).toBe('forecast-daily');
    expect((await tableRows(daily)).map(({ row }) => (row.date as Date).toISOString().slice(0, 10))).toEqual(['2024-02-02', '2024-02-03']);
    const cities = await tableRows(transform('cities', {}, { index: 1, count: 2 }));
    expect(cities.map(({ row }) => row.city_id)).toEqual([3477, 5959, 3478]);
  });
});

describe('climatempo options', () => {
  it('--timezone must be an IANA zone', () => {
    const schema = climatempo.transformOptions.schema(z);
    expect(schema.safeParse({ timezone: 'America/Manaus' }).success).toBe(true);
    const bad = schema.safeParse({ timezone: 'Mars/Olympus' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe('expected an IANA time zone, e.g. America/Manaus');
  });
});
