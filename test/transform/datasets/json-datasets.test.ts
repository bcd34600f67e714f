import { describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/log.js';
import type { Row } from '../../../src/core/table.js';
import { DEFAULT_ZONE, citiesDeclaration, hourlyDeclaration, zoneOfState } from '../../../src/transform/datasets/climatempo.js';
import { peopleDeclaration } from '../../../src/transform/datasets/random-person.js';
import { answerLayout, distinctColumnNames, queryDeclaration, renamedFields, snakeCase } from '../../../src/transform/datasets/supermetrics.js';
import { jsonTable, type JsonTableDeclaration } from '../../../src/transform/json/json-table.js';
import { personAt } from '../../fixtures/random-person/people.js';
import { tableRows } from '../../helpers/table-rows.js';

/**
 * The JSON dataset declarations of src/transform/datasets (random-person, climatempo, supermetrics) read through the
 * real JSON table reader, in-process: each column from the path it declares, and the conversions of fields that
 * arrive in more than one shape. The sources' own tests (test/sources/) hold the extract-to-transform path.
 */
const FETCHED_AT = '2024-03-01T12:00:00.000Z';

async function rowsOf(declaration: JsonTableDeclaration, body: unknown, name = 'answer.json', key?: string): Promise<Row[]> {
  const warnings: string[] = [];
  const log = createLogger({ quiet: true, stream: { write: (line: string) => (warnings.push(line), true) } as unknown as NodeJS.WritableStream, interactive: false });
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const table = jsonTable(declaration, [{ entry: { fetched_at: FETCHED_AT, key }, read: async () => Buffer.from(text), name }], log);
  return (await tableRows(table)).map(({ row }) => row);
}

async function refusalOf(declaration: JsonTableDeclaration, body: unknown, key?: string): Promise<DataError> {
  const error = await rowsOf(declaration, body, 'answer.json', key).then(
    () => expect.fail('read without an error'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe('random-person: people', () => {
  const people = Array.from({ length: 10 }, (_, i) => personAt('etl', 1, i)) as Array<Record<string, any>>;

  it('every column holds the field its path names, for people of both street shapes and both postcode kinds', async () => {
    const rows = await rowsOf(peopleDeclaration(false), { results: people, info: {} });
    expect(rows).toHaveLength(10);
    for (const [i, p] of people.entries()) {
      const street = typeof p.location.street === 'string' ? /^(\d+) (.*)$/.exec(p.location.street)! : null;
      expect(rows[i]).toEqual({
        uuid: p.login.uuid,
        gender: p.gender,
        name_title: p.name.title,
        name_first: p.name.first,
        name_last: p.name.last,
        location_street_number: street ? Number(street[1]) : p.location.street.number,
        location_street_name: street ? street[2] : p.location.street.name,
        location_city: p.location.city,
        location_state: p.location.state,
        location_country: p.location.country,
        location_postcode: String(p.location.postcode),
        location_coordinates_latitude: Number(p.location.coordinates.latitude),
        location_coordinates_longitude: Number(p.location.coordinates.longitude),
        location_timezone_offset: p.location.timezone.offset,
        location_timezone_description: p.location.timezone.description,
        email: p.email,
        login_username: p.login.username,
        dob: new Date(p.dob.date),
        dob_age: p.dob.age,
        registered: new Date(p.registered.date),
        registered_age: p.registered.age,
        phone: p.phone,
        cell: p.cell,
        id_name: p.id.name,
        id_value: p.id.value,
        picture_large: p.picture.large,
        picture_medium: p.picture.medium,
        picture_thumbnail: p.picture.thumbnail,
        nat: p.nat,
        extracted_at: new Date(FETCHED_AT),
        source_file: 'answer.json',
      });
    }
  });

  it('--with-credentials keeps the login fields; by default they are neither columns nor drift', async () => {
    const withCredentials = await rowsOf(peopleDeclaration(true), { results: people.slice(0, 1), info: {} });
    expect(withCredentials[0]).toMatchObject({ login_password: people[0]!.login.password, login_salt: people[0]!.login.salt, login_sha256: people[0]!.login.sha256 });
    expect(peopleDeclaration(false).ignore).toEqual(['$.info', 'login.password', 'login.salt', 'login.md5', 'login.sha1', 'login.sha256']);
    expect(peopleDeclaration(true).ignore).toEqual(['$.info']);
  });

  it('streets: "12  Elm Rd " as number and name, text without a number as the name, a number sent as text; postcodes as text', async () => {
    const base = people[0]!;
    const person = (street: unknown, postcode: unknown = 'A1') => ({ ...base, location: { ...base.location, street, postcode } });
    const rows = await rowsOf(peopleDeclaration(false), {
      results: [person(' 12   Elm Rd '), person('Elm Rd'), person({ number: '0042', name: 7 }, 1234), person({ name: 'Oak' }, '01234'), person({ number: null, name: null }), person('  Elm 12 Rd ')],
    });
    const streets = rows.map((r) => [r.location_street_number, r.location_street_name, r.location_postcode]);
    expect(streets).toEqual([
      [12, 'Elm Rd', 'A1'],
      [null, 'Elm Rd', 'A1'],
      [42, '7', '1234'],
      [null, 'Oak', '01234'],
      [null, null, 'A1'],
      // A number inside the text is no street number; the text is kept, trimmed.
      [null, 'Elm 12 Rd', 'A1'],
    ]);
    // A number with a long tail is kept exactly as text.
    const exact = await rowsOf(peopleDeclaration(false), JSON.stringify({ results: [person({ number: 1, name: 'x' }, 'LONG')] }).replace('"LONG"', '12345678901234567890'));
    expect(exact[0]!.location_postcode).toBe('12345678901234567890');
  });

  it('a street or postcode of another shape is a data error naming the field', async () => {
    const base = people[0]!;
    const person = (street: unknown, postcode: unknown = 'A1') => ({ ...base, location: { ...base.location, street, postcode } });
    for (const [street, postcode, expected] of [
      [{ number: 1.5, name: 'x' }, 'A1', /location\.street.*a street number/],
      [{ number: '12a', name: 'x' }, 'A1', /location\.street.*a street number/],
      [{ number: 2 ** 60, name: 'x' }, 'A1', /location\.street.*a street number/],
      [42, 'A1', /location\.street.*a street/],
      [{ number: 1, name: 'x' }, { code: 1 }, /location\.postcode.*a postcode/],
      [{ number: 1, name: 'x' }, true, /location\.postcode.*a postcode/],
    ] as const) {
      expect((await refusalOf(peopleDeclaration(false), { results: [person(street, postcode)] })).message).toMatch(expected);
    }
  });
});

describe('climatempo', () => {
  it('the zone of a state: case and spaces ignored; any other state, or none, is São Paulo\'s', () => {
    expect(zoneOfState('AM')).toBe('America/Manaus');
    expect(zoneOfState(' ac ')).toBe('America/Rio_Branco');
    expect(zoneOfState('ba')).toBe('America/Bahia');
    expect(zoneOfState('SP')).toBe(DEFAULT_ZONE);
    expect(zoneOfState('')).toBe(DEFAULT_ZONE);
    expect(zoneOfState(undefined)).toBe(DEFAULT_ZONE);
    expect(zoneOfState(13)).toBe(DEFAULT_ZONE);
    expect(DEFAULT_ZONE).toBe('America/Sao_Paulo');
  });

  const answer = (state: unknown, extra: Record<string, unknown> = {}) => ({
    id: 3477,
    name: 'Manaus',
    state,
    country: 'BR  ',
    data: [
      {
        date: '2024-01-15 06:00:00',
        date_br: '15/01/2024 06:00:00',
        temperature: { temperature: 24.5 },
        humidity: { humidity: 90 },
        pressure: { pressure: 1009.1 },
        rain: { precipitation: 0.4 },
        wind: { velocity: 3.2, direction: 'NE', directiondegrees: 45, gust: 7.1 },
        ...extra,
      },
    ],
  });

  it('forecast-hourly: the city, the hour as a UTC instant in the state\'s zone, each measure from its path', async () => {
    const rows = await rowsOf(hourlyDeclaration(), answer(' am '));
    expect(rows).toEqual([
      {
        city_id: 3477,
        city_name: 'Manaus',
        state: 'am',
        country: 'BR',
        // Manaus is UTC-4 all year.
        forecast_at: new Date('2024-01-15T10:00:00.000Z'),
        temperature: 24.5,
        humidity: 90,
        pressure: 1009.1,
        rain_precipitation: 0.4,
        wind_velocity: 3.2,
        wind_direction: 'NE',
        wind_direction_degrees: 45,
        wind_gust: 7.1,
        extracted_at: new Date(FETCHED_AT),
        source_file: 'answer.json',
      },
    ]);
    // Another zone given wins over the state's.
    expect((await rowsOf(hourlyDeclaration('UTC'), answer('AM')))[0]!.forecast_at).toEqual(new Date('2024-01-15T06:00:00.000Z'));
  });

  it('forecast-hourly: a date that is not text, a state or country that is not text, and no date at all are data errors', async () => {
    expect((await refusalOf(hourlyDeclaration(), answer('AM', { date: 20240115 }))).message).toMatch(/date.*a local time YYYY-MM-DD HH:MM:SS/);
    expect((await refusalOf(hourlyDeclaration(), { ...answer('AM'), country: 7 })).message).toMatch(/\$\.country.*text/);
    expect((await refusalOf(hourlyDeclaration(), { ...answer('AM'), data: [{ temperature: { temperature: 1 } }] })).message).toMatch(/date/);
    expect(hourlyDeclaration().title).toBe('ClimaTempo 72-hour forecast, one row per city and hour');
    expect(hourlyDeclaration().ignore).toEqual(['date_br']);
  });

  it('cities: a bare list, trimmed', async () => {
    expect(await rowsOf(citiesDeclaration, [{ id: 1, name: 'A', state: ' SP', country: 'BR ' }])).toEqual([
      { city_id: 1, city_name: 'A', state: 'SP', country: 'BR', extracted_at: new Date(FETCHED_AT), source_file: 'answer.json' },
    ]);
  });
});

describe('supermetrics: columns from the answer', () => {
  it('snakeCase: accents dropped, runs of other characters one underscore, none at the ends; nothing left is "column"', () => {
    expect(snakeCase('Ad Clicks')).toBe('ad_clicks');
    expect(snakeCase('  Média--por  dia__ ')).toBe('media_por_dia');
    expect(snakeCase('__a__')).toBe('a');
    expect(snakeCase('M-site_TOTAL: Bounces Landing')).toBe('m_site_total_bounces_landing');
    expect(snakeCase('%%%')).toBe('column');
    expect(snakeCase('')).toBe('column');
  });

  it('distinctColumnNames: the later of two same names gets the first free suffix, skipping names other fields make and the lineage columns', () => {
    expect(distinctColumnNames(['A b', 'a_b', 'a_b_2', 'Name', 'name'])).toEqual(['a_b', 'a_b_3', 'a_b_2', 'name', 'name_2']);
    expect(distinctColumnNames(['source_file', 'Extracted at'])).toEqual(['source_file_2', 'extracted_at_2']);
  });

  it('renamedFields says why each suffixed column got its suffix', () => {
    const layout = { columns: ['A b', 'a_b', 'source file', 'x', 'X'].map((field, i, all) => ({ field, name: distinctColumnNames(all)[i]!, dimension: true })), firstRow: 0 };
    expect(renamedFields(layout)).toEqual(['"a_b" is a_b_2 (a_b is "A b")', '"source file" is source_file_2 (source_file is etl\'s lineage column)', '"X" is x_2 (x is "x")']);
    const taken = { columns: [{ field: 'a b', name: 'a_b_2', dimension: true }, { field: 'a_b_2', name: 'a_b_2_2', dimension: true }], firstRow: 0 };
    expect(renamedFields(taken)).toEqual(['"a b" is a_b_2 (a_b is another field)', '"a_b_2" is a_b_2_2 (a_b_2 is "a b")']);
  });

  const fields = [
    { field_name: 'Date', field_type: 'dim' },
    { field_id: 'Campaign', field_type: 'DIMENSION' },
    { field_name: 'Clicks', field_type: 'met' },
  ];

  it('answerLayout: names from field_name or field_id; dim/DIMENSION are dimensions; a header row equal to the names is skipped', () => {
    expect(answerLayout({ meta: { query: { fields } }, data: [['2024-01-01', 'a', 3]] }, 'f.json')).toEqual({
      columns: [
        { name: 'date', field: 'Date', dimension: true },
        { name: 'campaign', field: 'Campaign', dimension: true },
        { name: 'clicks', field: 'Clicks', dimension: false },
      ],
      firstRow: 0,
    });
    expect(answerLayout({ meta: { query: { fields } }, data: [['Date', 'Campaign', 'Clicks'], ['2024-01-01', 'a', 3]] }, 'f.json').firstRow).toBe(1);
    // A first row that only starts like the names, or is one short, is data.
    expect(answerLayout({ meta: { query: { fields } }, data: [['Date', 'Campaign', 'Other']] }, 'f.json').firstRow).toBe(0);
    expect(answerLayout({ meta: { query: { fields } }, data: [['Date', 'Campaign']] }, 'f.json').firstRow).toBe(0);
    expect(answerLayout({ meta: { query: { fields } }, data: [] }, 'f.json').firstRow).toBe(0);
    // A field type that only contains "dim" is a metric.
    expect(answerLayout({ meta: { query: { fields: [{ field_name: 'x', field_type: 'nodim' }] } }, data: [] }, 'f.json').columns[0]!.dimension).toBe(false);
    expect(answerLayout({ meta: { query: { fields: [{ field_name: 'x', field_type: 7 }] } }, data: [] }, 'f.json').columns[0]!.dimension).toBe(false);
  });

  it('answerLayout, pivoted: the header row names the columns; the row dimensions first', () => {
    const pivoted = [
      { field_name: 'Date', field_type: 'dim', field_split: 'row' },
      { field_name: 'Device', field_type: 'dim', field_split: 'column' },
      { field_name: 'Clicks', field_type: 'met' },
    ];
    const layout = answerLayout({ meta: { query: { fields: pivoted } }, data: [['Date', 'mobile: Clicks', 7], ['2024-01-01', 1, 2]] }, 'f.json');
    expect(layout).toEqual({
      columns: [
        { name: 'date', field: 'Date', dimension: true },
        { name: 'mobile_clicks', field: 'mobile: Clicks', dimension: false },
        { name: '7', field: '7', dimension: false },
      ],
      firstRow: 1,
    });
    expect(() => answerLayout({ meta: { query: { fields: pivoted } }, data: [['Date', null]] }, 'f.json')).toThrow('f.json: $.data[0][1] is null, expected a column name in the header row');
  });

  it('answerLayout refuses an answer without fields or data, and a field that is not one', () => {
    for (const body of [null, {}, { meta: { query: { fields } } }, { data: [] }, { meta: {}, data: [] }]) {
      expect(() => answerLayout(body, 'f.json')).toThrow('f.json: expected meta.query.fields and data in a Supermetrics answer');
    }
    expect(() => answerLayout({ meta: { query: { fields: [null] } }, data: [] }, 'f.json')).toThrow('f.json: $.meta.query.fields[0] is null, expected a field with a field_name');
    expect(() => answerLayout({ meta: { query: { fields: [{ field_type: 'dim' }, 'Clicks'] } }, data: [] }, 'f.json')).toThrow('f.json: $.meta.query.fields[1] is "Clicks", expected a field with a field_name');
    expect(() => answerLayout({ meta: { query: { fields: [{ field_name: 3 }] } }, data: [] }, 'f.json')).toThrow(/fields\[0\] is \{"field_name":3\}/);
    // A field with neither name is named by the fallback.
    expect(answerLayout({ meta: { query: { fields: [{ field_type: 'dim' }] } }, data: [] }, 'f.json').columns[0]!.name).toBe('column');
  });
});

describe('supermetrics: the query declaration', () => {
  const fields = [
    { field_name: 'Date', field_type: 'dim' },
    { field_name: 'Campaign', field_type: 'dim' },
    { field_name: 'Clicks', field_type: 'met' },
  ];
  const body = (data: unknown[]) => ({ meta: { query: { fields } }, data });
  const layout = answerLayout(body([]), 'first.json');
  const declaration = queryDeclaration(layout);

  it('dimensions are text (a date when named date or *_date) and required; metrics are doubles; rows dedupe on the dimensions', () => {
    expect(declaration.columns.map((c) => [c.name, c.type, c.required])).toEqual([
      ['date', 'date', true],
      ['campaign', 'string', true],
      ['clicks', 'double', false],
    ]);
    expect(declaration.dedupeOn).toEqual(['date', 'campaign']);
    expect(declaration.title).toBe('Supermetrics query results, one row per combination of dimensions');
    const other = queryDeclaration(answerLayout({ meta: { query: { fields: [{ field_name: 'Start date', field_type: 'dim' }, { field_name: 'Update', field_type: 'dim' }, { field_name: 'date', field_type: 'met' }] } }, data: [] }, 'f'));
    expect(other.columns.map((c) => c.type)).toEqual(['date', 'string', 'double']);
    // No dimension named date: no check of the chunk.
    expect(other.checkRow).toBeUndefined();
    expect(declaration.checkRow).toBeDefined();
  });

  it('reads rows of cells (after a header row, if any), each dated inside the chunk its file was fetched for', async () => {
    const rows = await rowsOf(declaration, body([['Date', 'Campaign', 'Clicks'], ['2024-01-02', 'a', 3], ['2024-01-03', 'b', 4.5]]), 'c.json', '2024-01-01_2024-01-03/query.json');
    expect(rows.map((r) => [r.date, r.campaign, r.clicks])).toEqual([
      [new Date('2024-01-02T00:00:00.000Z'), 'a', 3],
      [new Date('2024-01-03T00:00:00.000Z'), 'b', 4.5],
    ]);
  });

  it('refuses a row dated outside its chunk, a row that is not a list, an answer whose columns changed, naming where', async () => {
    const outside = await refusalOf(declaration, body([['2024-01-04', 'a', 3]]), '2024-01-01_2024-01-03/query.json');
    expect(outside.message).toMatch(/\$\.data\[0\].*is dated 2024-01-04, outside 2024-01-01\.\.2024-01-03, the period this file was fetched for/);
    expect(outside.hint).toBe('the API answered rows for other dates: check the query file sets no dates of its own (date_range_type, start_date), then extract the period again with --refresh');
    const before = await refusalOf(declaration, body([['2023-12-31', 'a', 3]]), '2024-01-01_2024-01-03/query.json');
    expect(before.message).toMatch(/is dated 2023-12-31, outside/);
    // A key that is not a chunk: no check.
    expect(await rowsOf(declaration, body([['2023-12-31', 'a', 3]]), 'c.json', 'other/query.json')).toHaveLength(1);
    expect(await rowsOf(declaration, body([['2023-12-31', 'a', 3]]), 'c.json')).toHaveLength(1);

    expect((await refusalOf(declaration, body([['Date', 'Campaign', 'Clicks'], 'oops']))).message).toBe('answer.json: $.data[1] is "oops", expected a row (a list of cells)');
    const changed = await refusalOf(declaration, { meta: { query: { fields: fields.slice(0, 2) } }, data: [] });
    expect(changed.message).toBe('answer.json: the query\'s columns changed between raw files (date, campaign vs date, campaign, clicks)');
    expect(changed.hint).toBe('extract the whole period again with --refresh');
    // A cell of the wrong type is named by its row and column.
    expect((await refusalOf(declaration, body([['Date', 'Campaign', 'Clicks'], ['2024-01-02', 'a', 'many']]))).message).toMatch(/\$\.data\[1\]\[2\]/);
  });
});
