import type { Value } from '../../core/table.js';
import type { JsonColumn, JsonTableDeclaration } from '../json/json-table.js';
import { JsonNumberText } from '../json/parse-raw-json.js';

/** Credential-like fields randomuser.me sends; left out unless asked for. */
export const CREDENTIAL_FIELDS = ['password', 'salt', 'md5', 'sha1', 'sha256'] as const;

/** Newer API versions send `street` as {number, name}; older ones as one string ("9278 new road"). */
function streetPart(part: 'number' | 'name') {
  return (value: unknown): Value => {
    if (typeof value === 'string') {
      const match = /^(\d+)\s+(.*)$/.exec(value.trim());
      if (part === 'number') return match ? Number(match[1]) : null;
      return match ? match[2]! : value.trim();
    }
    if (value !== null && typeof value === 'object' && !(value instanceof JsonNumberText)) {
      const field = (value as Record<string, unknown>)[part];
      if (field === undefined || field === null) return null;
      if (part === 'name') return String(field);
      if (typeof field === 'number' && Number.isSafeInteger(field)) return field;
      if (typeof field === 'string' && /^\d+$/.test(field)) return Number(field);
    }
    throw new Error(part === 'number' ? 'a street number' : 'a street');
  };
}

/** Postcodes arrive as numbers for some countries and text for others: always text, so 01234 keeps its zero. */
function postcode(value: unknown): Value {
  if (typeof value === 'string' || typeof value === 'number' || value instanceof JsonNumberText) return String(value);
  throw new Error('a postcode');
}

const text = (name: string, path: string, required = false): JsonColumn => ({ name, type: 'string', path, required });

export function peopleDeclaration(withCredentials: boolean): JsonTableDeclaration {
  const credentials = CREDENTIAL_FIELDS.map((field) => text(`login_${field}`, `login.${field}`));
  return {
    name: 'people',
    title: 'Random people from randomuser.me, one row per person',
    records: 'results',
    columns: [
      text('uuid', 'login.uuid', true),
      text('gender', 'gender'),
      text('name_title', 'name.title'),
      text('name_first', 'name.first'),
      text('name_last', 'name.last'),
      { name: 'location_street_number', type: 'int64', path: 'location.street', convert: streetPart('number') },
      { name: 'location_street_name', type: 'string', path: 'location.street', convert: streetPart('name') },
      text('location_city', 'location.city'),
      text('location_state', 'location.state'),
      text('location_country', 'location.country'),
      { name: 'location_postcode', type: 'string', path: 'location.postcode', convert: postcode },
      { name: 'location_coordinates_latitude', type: 'double', path: 'location.coordinates.latitude' },
      { name: 'location_coordinates_longitude', type: 'double', path: 'location.coordinates.longitude' },
      text('location_timezone_offset', 'location.timezone.offset'),
      text('location_timezone_description', 'location.timezone.description'),
      text('email', 'email'),
      text('login_username', 'login.username'),
      ...(withCredentials ? credentials : []),
      { name: 'dob', type: 'timestamp', path: 'dob.date' },
      { name: 'dob_age', type: 'int32', path: 'dob.age' },
      { name: 'registered', type: 'timestamp', path: 'registered.date' },
      { name: 'registered_age', type: 'int32', path: 'registered.age' },
      text('phone', 'phone'),
      text('cell', 'cell'),
      text('id_name', 'id.name'),
      text('id_value', 'id.value'),
      text('picture_large', 'picture.large'),
      text('picture_medium', 'picture.medium'),
      text('picture_thumbnail', 'picture.thumbnail'),
      text('nat', 'nat'),
    ],
    ignore: ['$.info', ...(withCredentials ? [] : CREDENTIAL_FIELDS.map((field) => `login.${field}`))],
  };
}
