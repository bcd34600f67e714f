import type { z } from 'zod';
import { mapUntilFailure } from '../core/concurrency.js';
import { ConfigError } from '../core/errors.js';
import { secretSetting } from '../core/settings.js';
import type { Reveal, Secret } from '../core/secret.js';
import { inShard, type ExtractReport, type ExtractRequest, type Source, type SourceIO, type TransformRequest, type Zod } from '../core/source.js';
import type { Table } from '../core/table.js';
import { citiesDeclaration, dailyDeclaration, hourlyDeclaration } from '../transform/datasets/climatempo.js';
import { jsonColumns, rawJsonTable } from '../transform/json/json-table.js';
import type { ApiExtraction } from './api-source.js';
import type { ResponseEntry } from '../core/raw-layer.js';

const TOKEN_ENV = 'CLIMATEMPO_TOKEN';
const FORECAST_PATHS: Record<string, (city: string) => string> = {
  'forecast-hourly': (city) => `api/v1/forecast/locale/${city}/hours/72`,
  'forecast-daily': (city) => `api/v1/forecast/locale/${city}/days/15`,
};

const extractOptions = (z: Zod) =>
  z.object({
  city: z.array(z.string().regex(/^\d+$/, 'expected numeric city ids, e.g. 3477 (etl extract climatempo cities finds them)')).optional(),
  name: z.string().optional(),
  state: z.string().regex(/^[A-Za-z]{2}$/, 'expected a two-letter state, e.g. SP').optional(),
  country: z.string().regex(/^[A-Za-z]{2}$/, 'expected a two-letter country code, e.g. BR').optional(),
});
type ClimatempoExtractOptions = z.infer<ReturnType<typeof extractOptions>>;

const transformOptions = (z: Zod) => z.object({ timezone: z.string().refine(isZone, 'expected an IANA time zone, e.g. America/Manaus').optional() });
type ClimatempoTransformOptions = z.infer<ReturnType<typeof transformOptions>>;

function isZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** ClimaTempo serves a city only once it is registered to the token; this is how it says it is not. */
function notRegistered(status: number, body: Buffer): boolean {
  return (status === 400 || status === 403) && /locale|localidade/i.test(body.toString('utf8')) && !/token/i.test(body.toString('utf8'));
}

async function extract(request: ExtractRequest<ClimatempoExtractOptions>, io: SourceIO): Promise<ExtractReport> {
  const token = secretSetting(TOKEN_ENV, 'the ClimaTempo API Advisor token');
  // The HTTP client loads when a source extracts, not with the registry (`etl --help`).
  const { startApiExtraction } = await import('./api-source.js');
  const run = startApiExtraction('climatempo', request, io, TOKEN_ENV);
  const base = request.baseUrl!.endsWith('/') ? request.baseUrl! : `${request.baseUrl!}/`;
  if (request.dataset === 'cities') return extractCities(run, base, token, request.options, io);

  const asked = [...new Set(request.options.city ?? [])];
  // A shard takes the cities whose id mod n is its index: the same city always goes to the same shard.
  const cities = asked.filter((city) => inShard(Number(city), request.shard));
  if (asked.length > 0 && cities.length === 0) {
    io.log.info(`shard ${request.shard!.index}/${request.shard!.count}: none of the ${asked.length} cities is this shard's`);
    return run.report([]);
  }
  if (cities.length === 0) throw new ConfigError(`climatempo ${request.dataset} needs --city`, { hint: 'e.g. --city 3477 (São Paulo); `etl extract climatempo cities --state SP` lists the ids' });
  const endpoint = FORECAST_PATHS[request.dataset]!;
  const progress = io.log.progress(`${request.dataset}: 0/${cities.length} cities`);
  let done = 0;
  // The first city that fails ends the extract: the others are cancelled at once (not retried).
  const { done: entries, failure } = await mapUntilFailure(cities, request.concurrency, async (city, _index, signal): Promise<ResponseEntry> => {
    const url = (reveal: Reveal): string => {
      const forecast = new URL(endpoint(city), base);
      forecast.searchParams.set('token', reveal(token));
      return forecast.href;
    };
    const call = { url, allowStatus: [400, 403], signal };
    let response = await run.api.send(call);
    // A refusal for an unregistered city: register it to the token, then try once more.
    if (notRegistered(response.status, response.body)) {
      io.log.info(`climatempo: city ${city} is not registered to this token; registering it and trying once more`);
      await run.api.send({ method: 'PUT', url: (reveal) => new URL(`api-manager/user-token/${encodeURIComponent(reveal(token))}/locales`, base).href, form: [['localeId[]', city]], signal });
      response = await run.api.send(call);
    }
    const { entry } = await run.keep(response, `${city}.json`, city, (body) => checkForecast(body, city));
    progress.update(`${request.dataset}: ${++done}/${cities.length} cities`);
    return entry;
  });
  // Each city's file replaces that city's earlier one; other cities extracted before are kept. The cities
  // that completed before a failure are recorded too, so no file is left on disk without its entry.
  if (entries.length > 0) await run.record(entries, () => false);
  if (failure) {
    progress.fail(`${request.dataset}: ${entries.length}/${cities.length} cities before the failure`);
    throw failure.error;
  }
  progress.done(`${request.dataset}: ${cities.length} cities`);
  return run.report(entries);
}

function checkForecast(body: unknown, city: string): void {
  const answer = body as { id?: unknown; data?: unknown };
  if (!Array.isArray(answer.data)) throw new Error(`city ${city}: the answer has no data list`);
}

async function extractCities(run: ApiExtraction, base: string, token: Secret, options: ClimatempoExtractOptions, io: SourceIO): Promise<ExtractReport> {
  const url = (reveal: Reveal): string => {
    const cities = new URL('api/v1/locale/city', base);
    if (options.name) cities.searchParams.set('name', options.name);
    if (options.state) cities.searchParams.set('state', options.state.toUpperCase());
    if (options.name === undefined && options.state === undefined) cities.searchParams.set('country', (options.country ?? 'BR').toUpperCase());
    cities.searchParams.set('token', reveal(token));
    return cities.href;
  };
  const { entry } = await run.fetchToRaw({ url }, 'cities.json', 'cities', (body) => {
    if (!Array.isArray(body)) throw new Error('expected a list of cities');
  });
  io.log.info(`climatempo cities: ${entry.bytes} bytes`);
  await run.record([entry], () => true);
  return run.report([entry]);
}

async function transform(request: TransformRequest<ClimatempoTransformOptions>, io: SourceIO): Promise<Table> {
  const declaration = request.dataset === 'forecast-hourly' ? hourlyDeclaration(request.options.timezone) : request.dataset === 'forecast-daily' ? dailyDeclaration : citiesDeclaration;
  const keep = request.dataset === 'cities' ? undefined : (entry: ResponseEntry) => inShard(Number(entry.key), request.shard);
  return rawJsonTable(declaration, { dataDir: request.dataDir, source: 'climatempo', keep }, io.log);
}

export const climatempo: Source<ClimatempoExtractOptions, ClimatempoTransformOptions> = {
  name: 'climatempo',
  description: 'ClimaTempo API Advisor (Brazil): hourly and daily forecasts per city, and the city list',
  baseUrl: 'http://apiadvisor.climatempo.com.br',
  offline: 'offline, point --base-url at a stand-in server (README: Try it offline)',
  datasets: [hourlyDeclaration(), dailyDeclaration, citiesDeclaration].map((d) => ({ name: d.name, title: d.title, columns: jsonColumns(d) })),
  defaultDataset: 'forecast-hourly',
  shardsBy: 'cities',
  env: [{ name: TOKEN_ENV, description: 'the API Advisor token, sent as the token query parameter', secret: true }],
  extractOptions: {
    flags: [
      { flags: '--city <ids>', description: 'city (locale) ids, repeated or comma-separated: --city 3477 --city 5959 (forecast datasets)', list: true },
      { flags: '--name <name>', description: 'cities: search by name' },
      { flags: '--state <uf>', description: 'cities: only this state, e.g. SP' },
      { flags: '--country <code>', description: 'cities: every city of a country (default BR when neither --name nor --state)' },
    ],
    schema: extractOptions,
  },
  transformOptions: {
    flags: [{ flags: '--timezone <zone>', description: "forecast-hourly: read the API's local times in this IANA zone instead of the zone of each city's state" }],
    schema: transformOptions,
  },
  help: {
    extract: `
Examples:
  $ etl extract climatempo forecast-hourly --city 3477 --city 5959     one raw file per city
  $ etl extract climatempo forecast-daily --city 3477
  $ etl extract climatempo cities --country BR

The API serves a city only once it is registered to the token: when it answers that a city is not
registered, etl registers it (PUT /api-manager/user-token/…/locales), says so, and tries once more.`,
    transform: `
Examples:
  $ etl transform climatempo forecast-daily --out forecast.parquet

city_name, state and country are trimmed. forecast_at (forecast-hourly) is UTC: the API sends local
time, converted with the zone of the city's state (America/Sao_Paulo for most, historical daylight
saving included). forecast-daily flattens every nested measure by its path (temperature_morning_max,
wind_afternoon_velocity_avg, cloud_coverage_night_low, …).`,
  },
  extract,
  transform,
};
