import type { Value } from '../../core/table.js';
import type { JsonColumn, JsonTableDeclaration } from '../json/json-table.js';
import { localTimeToInstant } from '../json/local-time.js';

/**
 * ClimaTempo answers: forecasts carry the city at the top ({id, name, state, country, data: [...]}),
 * one item per hour or per day. Nested objects are flattened to names made of their path
 * (temperature.morning.max -> temperature_morning_max).
 */

/** Brazilian states by IANA zone; any other state (and SP, RJ, MG, the South…) is America/Sao_Paulo. */
const STATE_ZONES: Record<string, string> = {
  AC: 'America/Rio_Branco', AM: 'America/Manaus', RR: 'America/Boa_Vista', RO: 'America/Porto_Velho',
  MT: 'America/Cuiaba', MS: 'America/Campo_Grande', PA: 'America/Belem', AP: 'America/Belem', TO: 'America/Araguaina',
  MA: 'America/Fortaleza', PI: 'America/Fortaleza', CE: 'America/Fortaleza', RN: 'America/Fortaleza', PB: 'America/Fortaleza',
  PE: 'America/Recife', AL: 'America/Maceio', SE: 'America/Maceio', BA: 'America/Bahia',
};
export const DEFAULT_ZONE = 'America/Sao_Paulo';

export function zoneOfState(state: unknown): string {
  return (typeof state === 'string' && STATE_ZONES[state.trim().toUpperCase()]) || DEFAULT_ZONE;
}

/** `country` may arrive padded ("BR  "). */
const trimmed = (value: unknown): Value => {
  if (typeof value !== 'string') throw new Error('text');
  return value.trim();
};

const CITY_COLUMNS: JsonColumn[] = [
  { name: 'city_id', type: 'int64', path: '$.id', required: true },
  { name: 'city_name', type: 'string', path: '$.name' },
  { name: 'state', type: 'string', path: '$.state', convert: trimmed },
  { name: 'country', type: 'string', path: '$.country', convert: trimmed },
];

const column = (path: string, type: JsonColumn['type'] = 'double'): JsonColumn => ({ name: path.replace(/\./g, '_'), type, path });

/** `date` is the city's local time: the instant is found with the zone of the city's state, historical DST included. */
export function hourlyDeclaration(zoneOverride?: string): JsonTableDeclaration {
  return {
    name: 'forecast-hourly',
    title: 'ClimaTempo 72-hour forecast, one row per city and hour',
    records: 'data',
    columns: [
      ...CITY_COLUMNS,
      {
        name: 'forecast_at',
        type: 'timestamp',
        path: 'date',
        required: true,
        convert: (value, response) => {
          if (typeof value !== 'string') throw new Error('a local time YYYY-MM-DD HH:MM:SS');
          return localTimeToInstant(value, zoneOverride ?? zoneOfState((response as { state?: unknown }).state));
        },
        description: 'the hour, as a UTC instant (the API sends local time)',
      },
      { name: 'temperature', type: 'double', path: 'temperature.temperature' },
      { name: 'humidity', type: 'double', path: 'humidity.humidity' },
      { name: 'pressure', type: 'double', path: 'pressure.pressure' },
      column('rain.precipitation'),
      column('wind.velocity'),
      column('wind.direction', 'string'),
      { name: 'wind_direction_degrees', type: 'double', path: 'wind.directiondegrees' },
      column('wind.gust'),
    ],
    ignore: ['date_br'],
  };
}

const PARTS = ['dawn', 'morning', 'afternoon', 'night'] as const;
const WIND = ['velocity_min', 'velocity_max', 'velocity_avg', 'direction_degrees', 'gust_max'];
const minMax = (root: string): string[] => [`${root}.min`, `${root}.max`, ...PARTS.flatMap((part) => [`${root}.${part}.min`, `${root}.${part}.max`])];

export const dailyDeclaration: JsonTableDeclaration = {
  name: 'forecast-daily',
  title: 'ClimaTempo 15-day forecast, one row per city and day',
  records: 'data',
  columns: [
    ...CITY_COLUMNS,
    { name: 'date', type: 'date', path: 'date', required: true },
    ...minMax('temperature').map((p) => column(p)),
    ...minMax('humidity').map((p) => column(p)),
    column('thermal_sensation.min'),
    column('thermal_sensation.max'),
    { name: 'pressure', type: 'double', path: 'pressure.pressure' },
    column('rain.precipitation'),
    column('rain.probability'),
    ...WIND.map((w) => column(`wind.${w}`)),
    column('wind.direction', 'string'),
    ...PARTS.flatMap((part) => [...WIND.map((w) => column(`wind.${part}.${w}`)), column(`wind.${part}.direction`, 'string')]),
    column('uv.max'),
    ...['low', 'mid', 'high'].map((level) => column(`cloud_coverage.${level}`)),
    ...PARTS.flatMap((part) => ['low', 'mid', 'high'].map((level) => column(`cloud_coverage.${part}.${level}`))),
    ...[...PARTS, 'day'].map((part) => column(`text_icon.icon.${part}`, 'string')),
    ...['pt', 'en', 'es'].map((language) => column(`text_icon.text.${language}`, 'string')),
    ...['reduced', ...PARTS].map((part) => column(`text_icon.text.phrase.${part}`, 'string')),
    column('sun.sunrise', 'string'),
    column('sun.sunset', 'string'),
  ],
  ignore: ['date_br', '$.meteogram'],
};

export const citiesDeclaration: JsonTableDeclaration = {
  name: 'cities',
  title: 'ClimaTempo locales: the ids --city takes',
  // The answer is a bare list of cities.
  records: { from: '$', read: (body) => ({ records: body }) },
  columns: [
    { name: 'city_id', type: 'int64', path: 'id', required: true },
    { name: 'city_name', type: 'string', path: 'name' },
    { name: 'state', type: 'string', path: 'state', convert: trimmed },
    { name: 'country', type: 'string', path: 'country', convert: trimmed },
  ],
};
