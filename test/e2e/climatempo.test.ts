import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { dailyAnswer, hourlyAnswer, type City } from '../fixtures/climatempo/forecasts.js';
import { expectFaultsHandled } from '../helpers/api-faults.js';
import { json, type ApiAnswer, type ApiRequest } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';

/**
 * ClimaTempo end to end: the CLI against an API Advisor look-alike on 127.0.0.1. The built CLI runs as a process for
 * the hourly forecast's first extract and transform and the cancelled cities (the process ends only once they are);
 * the other runs go through the CLI's `main` in this process (test/helpers/cli-in-process.ts), the token checks too
 * (each in-process session starts with no secret registered, as a process does).
 */
const TOKEN = 'ct-token-8e41c07a55';
const SAO_PAULO: City = { id: 3477, name: 'São Paulo', state: 'SP', country: 'BR  ' };
const MANAUS: City = { id: 5959, name: 'Manaus', state: 'AM', country: 'BR' };
const CITIES = new Map([SAO_PAULO, MANAUS].map((c) => [String(c.id), c]));
/** The hourly start per city: São Paulo's series starts in the summer of 2018, when Brazil still had DST. */
const hourlyStart: Record<string, string> = { '3477': '2024-02-02 00:00:00', '5959': '2024-02-02 00:00:00' };
let dailyBody: ((city: City) => string) | undefined;
let registered: Set<string>;
/** Cities the look-alike also serves (registered, São Paulo's answer), and how long it takes over any city. */
let extraCities: Set<string>;
let delays: Map<string, number>;
const printed: string[] = [];

const bed = useApiTestbed('climatempo', (request) => {
  const answer = answerFor(request);
  const city = /^\/api\/v1\/forecast\/locale\/(\d+)\//.exec(request.url.pathname)?.[1];
  const delayMs = city === undefined ? undefined : delays.get(city);
  return delayMs === undefined ? answer : { ...answer, delayMs };
});

function answerFor(request: ApiRequest): ApiAnswer {
  if (request.url.searchParams.get('token') !== TOKEN && !request.path.startsWith('/api-manager/')) return json(401, { error: true, detail: 'Invalid token' });
  const registration = /^\/api-manager\/user-token\/([^/]+)\/locales$/.exec(request.url.pathname);
  if (registration && request.method === 'PUT') {
    if (registration[1] !== TOKEN) return json(401, { error: true, detail: 'Invalid token' });
    const id = new URLSearchParams(request.body).get('localeId[]')!;
    registered.add(id);
    return json(200, { status: 'success', locales: [...registered].map(Number) });
  }
  const forecast = /^\/api\/v1\/forecast\/locale\/(\d+)\/(hours\/72|days\/15)$/.exec(request.url.pathname);
  if (forecast) {
    const city = CITIES.get(forecast[1]!) ?? (extraCities.has(forecast[1]!) ? { ...SAO_PAULO, id: Number(forecast[1]) } : undefined);
    if (!city) return json(404, { error: true, detail: 'Not found' });
    if (!registered.has(forecast[1]!) && !extraCities.has(forecast[1]!)) return json(400, { error: true, detail: `Access forbidden, you have no acces for this locale: ${forecast[1]}` });
    if (forecast[2] === 'hours/72') return json(200, hourlyAnswer(city, hourlyStart[forecast[1]!] ?? '2024-02-02 00:00:00', 72));
    return { status: 200, body: dailyBody ? dailyBody(city) : JSON.stringify(dailyAnswer(city, '2024-02-02', 7)).replace('TOKEN', TOKEN) };
  }
  if (request.url.pathname === '/api/v1/locale/city') {
    return json(200, [{ id: 3477, name: 'São Paulo', state: 'SP', country: 'BR  ' }, { id: 3478, name: 'Santos', state: 'SP', country: 'BR' }]);
  }
  return json(404, { error: true, detail: 'Not found' });
}
beforeEach(() => {
  registered = new Set(['3477']);
  extraCities = new Set();
  delays = new Map();
  hourlyStart['3477'] = '2024-02-02 00:00:00';
  dailyBody = undefined;
});

async function cli(args: string[], how: 'in-process' | 'process' = 'in-process'): Promise<CliResult> {
  const result = await (how === 'process' ? runCli : runCliInProcess)(args, { env: { CLIMATEMPO_TOKEN: TOKEN } });
  printed.push(result.stdout, result.stderr);
  return result;
}
const extractArgs = (dataset: string, extra: string[]) => ['extract', 'climatempo', dataset, '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--rate-limit', '0', ...extra];
const transformArgs = (dataset: string, extra: string[]) => ['transform', 'climatempo', dataset, '--data-dir', bed.dataDir, ...extra];
const extract = (dataset: string, ...extra: string[]) => cli(extractArgs(dataset, extra));
const transform = (dataset: string, ...extra: string[]) => cli(transformArgs(dataset, extra));
const extractProcess = (dataset: string, ...extra: string[]) => cli(extractArgs(dataset, extra), 'process');
const transformProcess = (dataset: string, ...extra: string[]) => cli(transformArgs(dataset, extra), 'process');
const iso = (value: unknown) => (value as Date).toISOString();

describe('etl extract/transform climatempo', () => {
  it('forecast-hourly: registers an unregistered city once, and stores each hour as the right UTC instant', async () => {
    // São Paulo (UTC-3 today) in January 2018 was on daylight saving time (UTC-2); Manaus is UTC-4.
    hourlyStart['3477'] = '2018-01-15 00:00:00';
    const result = await extractProcess('forecast-hourly', '--city', '3477,5959');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/city 5959 is not registered to this token; registering it and trying once more/);
    const put = bed.server.requests.filter((r) => r.method === 'PUT');
    expect(put).toHaveLength(1);
    expect(new URLSearchParams(put[0]!.body).getAll('localeId[]')).toEqual(['5959']);
    expect(bed.server.requests.filter((r) => r.path.includes('/5959/'))).toHaveLength(2);

    const out = path.join(bed.dataDir, 'hourly.parquet');
    expect((await transformProcess('forecast-hourly', '--out', out)).code).toBe(0);
    const { columns, rows } = await readParquet(out);
    expect(rows).toHaveLength(2 * 72);
    expect(columns.find((c) => c.name === 'forecast_at')).toMatchObject({ type: 'INT64', logical: 'TIMESTAMP' });
    expect(columns.find((c) => c.name === 'city_id')).toMatchObject({ type: 'INT64' });
    const at = (city: number, local: string) => rows.find((r) => r.city_id === BigInt(city) && r.source_file === `raw/climatempo/forecast-hourly/${city}.json` && rows.indexOf(r) >= 0 && hourOf(r, city) === local)!;
    const hourOf = (r: Record<string, unknown>, city: number) => {
      const answer = hourlyAnswer(CITIES.get(String(city))!, hourlyStart[String(city)]!, 72) as { data: Array<{ date: string }> };
      return answer.data[rows.filter((x) => x.city_id === BigInt(city)).indexOf(r)]!.date;
    };
    // 09:00 local: 11:00Z under 2018's DST in São Paulo (not 12:00Z, the 3-hour mistake), 13:00Z in Manaus.
    expect(iso(at(3477, '2018-01-15 09:00:00').forecast_at)).toBe('2018-01-15T11:00:00.000Z');
    expect(iso(at(5959, '2024-02-02 09:00:00').forecast_at)).toBe('2024-02-02T13:00:00.000Z');
    const first = at(3477, '2018-01-15 00:00:00');
    expect(first).toMatchObject({ city_name: 'São Paulo', state: 'SP', country: 'BR', temperature: 20, humidity: 60, pressure: 1013, wind_direction: 'ESE', wind_direction_degrees: 120, wind_gust: 11 });
    expect(at(3477, '2018-01-15 01:00:00')).toMatchObject({ temperature: 21.5, rain_precipitation: 0.4, wind_gust: 10.5 });

    // Today: no DST, São Paulo is UTC-3.
    hourlyStart['3477'] = '2024-02-02 00:00:00';
    expect((await extract('forecast-hourly', '--city', '3477')).code).toBe(0);
    expect((await transform('forecast-hourly', '--out', out)).code).toBe(0);
    const now = (await readParquet(out)).rows.filter((r) => r.city_id === 3477n);
    expect(iso(now[9]!.forecast_at)).toBe('2024-02-02T12:00:00.000Z');
    // --timezone reads the local times in another zone.
    expect((await transform('forecast-hourly', '--out', out, '--timezone', 'UTC')).code).toBe(0);
    expect(iso((await readParquet(out)).rows.filter((r) => r.city_id === 3477n)[9]!.forecast_at)).toBe('2024-02-02T09:00:00.000Z');
  });

  it('forecast-daily: nested measures flattened to named, typed columns', async () => {
    expect((await extract('forecast-daily', '--city', '3477')).code).toBe(0);
    const out = path.join(bed.dataDir, 'daily.parquet');
    const transformed = await transform('forecast-daily', '--out', out);
    expect(transformed.code).toBe(0);
    expect(transformed.stderr).not.toContain('schema drift');
    const { columns, rows } = await readParquet(out);
    expect(rows).toHaveLength(7);
    const type = (name: string) => columns.find((c) => c.name === name);
    expect(type('date')).toMatchObject({ type: 'INT32', logical: 'DATE' });
    expect(type('temperature_morning_max')).toMatchObject({ type: 'DOUBLE' });
    expect(type('text_icon_text_en')).toMatchObject({ logical: 'UTF8' });
    expect(rows[1]).toMatchObject({
      city_id: 3477n, country: 'BR', temperature_min: 19, temperature_max: 27, temperature_morning_max: 22, humidity_night_min: 59,
      wind_afternoon_velocity_avg: 10.5, wind_afternoon_direction: 'ESE', wind_velocity_max: 20, cloud_coverage_night_low: 83,
      rain_precipitation: 16, rain_probability: 80, text_icon_icon_day: '4t', sun_sunrise: '08:45:25',
    });
    expect(iso(rows[1]!.date)).toBe('2024-02-03T00:00:00.000Z');
  });

  it.skipIf(!hasSharedData)('forecast-daily: the recorded São Paulo answer from ../shared reads as 7 typed days', async () => {
    const sample = readFileSync(sharedFile('api-samples', 'climatempo', 'climatempo_forecast_days_locale3477_2024-02-02.json'), 'utf8');
    dailyBody = () => sample;
    expect((await extract('forecast-daily', '--city', '3477')).code).toBe(0);
    const out = path.join(bed.dataDir, 'sample.parquet');
    const transformed = await transform('forecast-daily', '--out', out);
    expect(transformed.code).toBe(0);
    const expected = JSON.parse(sample);
    const { rows } = await readParquet(out);
    expect(rows).toHaveLength(expected.data.length);
    rows.forEach((row, i) => {
      const day = expected.data[i];
      expect(iso(row.date).slice(0, 10)).toBe(day.date);
      expect(row).toMatchObject({ temperature_min: day.temperature.min, temperature_afternoon_max: day.temperature.afternoon.max, wind_night_velocity_avg: day.wind.night.velocity_avg, rain_precipitation: day.rain.precipitation, text_icon_text_en: day.text_icon.text.en });
    });
  });

  it('etl run --shard i/3 splits the cities: each shard fetches only its own, and together they write every row once', async () => {
    registered.add('5959');
    const lake = path.join(bed.dataDir, 'lake');
    const fetched: string[][] = [];
    for (const index of [0, 1, 2]) {
      bed.server.requests.length = 0;
      const args = ['run', 'climatempo', 'forecast-daily', '--city', '3477,5959', '--base-url', bed.server.url, '--rate-limit', '0'];
      const result = await cli([...args, '--data-dir', path.join(bed.dataDir, `shard-${index}`), '--partition-by', 'city_id', '--out', lake, '--shard', `${index}/3`]);
      expect(result.code, result.stderr).toBe(0);
      fetched.push(bed.server.requests.map((request) => /locale\/(\d+)\//.exec(request.path)?.[1] ?? '').filter(Boolean));
    }
    // 3477 mod 3 = 0, 5959 mod 3 = 1; shard 2 has no city and skips transform and load.
    expect(fetched).toEqual([['3477'], ['5959'], []]);
    const partitions = (await readdir(lake)).filter((name) => name.startsWith('city_id=')).sort();
    expect(partitions).toEqual(['city_id=3477', 'city_id=5959']);
    const rows = (await Promise.all(partitions.map(async (name) => (await readParquet(path.join(lake, name, 'part-0.parquet'))).rows))).flat();
    expect(rows).toHaveLength(2 * 7);
  });

  it('cities, and --help documents every option and the token', async () => {
    expect((await extract('cities', '--state', 'sp')).code).toBe(0);
    expect(bed.server.requests[0]!.url.searchParams.get('state')).toBe('SP');
    const out = path.join(bed.dataDir, 'cities.parquet');
    expect((await transform('cities', '--out', out)).code).toBe(0);
    expect((await readParquet(out)).rows.map((r) => [r.city_id, r.city_name, r.country])).toEqual([[3477n, 'São Paulo', 'BR'], [3478n, 'Santos', 'BR']]);
    const help = await cli(['extract', 'climatempo', '--help']);
    for (const text of ['--city <ids>', '--name <name>', '--state <uf>', '--country <code>', '--base-url <url>', 'CLIMATEMPO_TOKEN', 'CLIMATEMPO_BASE_URL', '--timeout', '--retries', '--concurrency', '--data-dir']) expect(help.stdout).toContain(text);
    const foreign = await extract('forecast-daily', '--count', '3');
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/unknown option '--count' \(it belongs to etl extract random-person\)/);
    const noCity = await extract('forecast-daily');
    expect(noCity.code).toBe(2);
    expect(noCity.stderr).toMatch(/needs --city/);
  });

  it('rides out or reports every server fault, naming CLIMATEMPO_TOKEN on a 401', async () => {
    const good = JSON.stringify(hourlyAnswer(SAO_PAULO, '2024-02-02 00:00:00', 3));
    await expectFaultsHandled(bed.server, '/api/v1/forecast/', good, () => extract('forecast-hourly', '--city', '3477'), /check CLIMATEMPO_TOKEN/);
  });

  it('one city refused (404) among seven: the others are cancelled at once, no retry after the fatal error, and what completed is in the manifest', async () => {
    // São Paulo answers at once; 9999 is unknown (404) after 1 s; five more cities would take 20 s each. (300 ms
    // was not always enough on a loaded machine for São Paulo's answer to come in and 1003 to start before the 404.)
    const slow = ['1001', '1002', '1003', '1004', '1005'];
    for (const city of slow) {
      extraCities.add(city);
      delays.set(city, 20_000);
    }
    delays.set('9999', 1000);
    const started = Date.now();
    const result = await extractProcess('forecast-hourly', '--city', ['3477', '9999', ...slow].join(','));
    const elapsed = Date.now() - started;
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/GET .*\/locale\/9999\/hours\/72 answered HTTP 404/);
    expect(result.stderr).not.toMatch(/retry \d|UND_ERR|internal error/);
    expect(elapsed).toBeLessThan(10_000); // 33 s before: retries of the cancelled cities
    // Four at once (--concurrency 4), and 1003 after São Paulo; no city starts after the failure.
    expect(bed.server.requests.map((r) => /locale\/(\d+)\//.exec(r.path)?.[1]).sort()).toEqual(['1001', '1002', '1003', '3477', '9999']);
    const rawDir = path.join(bed.dataDir, 'raw', 'climatempo', 'forecast-hourly');
    const manifest = JSON.parse(await readFile(path.join(rawDir, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(['3477.json']);
    // No file in the raw folder is missing from the manifest.
    expect((await readdir(rawDir)).filter((name) => !name.startsWith('.')).sort()).toEqual(['3477.json', 'manifest.json']);
    const transformed = await transform('forecast-hourly', '--out', path.join(bed.dataDir, 'partial.parquet'));
    expect(transformed.code, transformed.stderr).toBe(0);
    expect((await readParquet(path.join(bed.dataDir, 'partial.parquet'))).rows).toHaveLength(72);
  });

  it('never writes or prints the token, even when the API echoes it', async () => {
    expect((await cli(['--json', '--debug', 'extract', 'climatempo', 'forecast-daily', '--city', '3477,5959', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(0);
    expect((await cli(['--debug', 'extract', 'climatempo', 'forecast-hourly', '--city', '3477', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(0);
    bed.server.queue('/api/v1/forecast/', { status: 500, body: `{"detail":"upstream failed for token ${TOKEN}"}` }, { status: 403, body: `{"error":true,"detail":"Invalid token ${TOKEN}"}` });
    expect((await cli(['--debug', 'extract', 'climatempo', 'forecast-hourly', '--city', '3477', '--base-url', bed.server.url, '--data-dir', bed.dataDir])).code).toBe(3);
    expect((await transform('forecast-daily', '--out', path.join(bed.dataDir, 'daily.parquet'))).code).toBe(0);
    expect(bed.server.requests.some((r) => r.path.includes(TOKEN))).toBe(true);
    const raw = await readFile(path.join(bed.dataDir, 'raw', 'climatempo', 'forecast-daily', '3477.json'), 'utf8');
    expect(raw).toContain('meteogram/locale/3477?token=REDACTED');
    const files = (await readdir(bed.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      expect(file).not.toContain(TOKEN);
      expect((await readFile(file)).includes(TOKEN), file).toBe(false);
    }
    for (const text of printed) expect(text).not.toContain(TOKEN);
  });
});
