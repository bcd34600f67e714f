import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { checkPipeline } from '../../src/run/check-pipeline.js';
import { parseConfigText } from '../../src/run/parse-config.js';
import type { PipelineRequest } from '../../src/run/pipeline.js';
import { baseUrlOf, datasetFileOf, defaultDatasetOf, inputsOf, instanceOf, parseSourceOptions, type SourceParams } from '../../src/run/source-adapter.js';
import { findSource } from '../../src/sources/index.js';

/**
 * src/run/source-adapter.ts, check-pipeline.ts and parse-config.ts in-process: the checks every pipeline passes
 * before its first request or write (until now held only through the built CLI: test/run/fail-before-spending.test.ts).
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-source-adapter-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const ENV = ['RANDOM_PERSON_BASE_URL', 'ONS_BASE_URL'];
const saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of ENV) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

async function refusal(work: Promise<unknown> | (() => unknown)): Promise<ConfigError> {
  const error = await (typeof work === 'function' ? Promise.resolve().then(work) : work).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('baseUrlOf: --base-url, else <SOURCE>_BASE_URL, else the source\'s own', () => {
  it('in that order; a source without one has none', () => {
    delete process.env.RANDOM_PERSON_BASE_URL;
    expect(baseUrlOf({ source: 'random-person' })).toBe('https://randomuser.me');
    process.env.RANDOM_PERSON_BASE_URL = 'http://127.0.0.1:1/mirror/';
    expect(baseUrlOf({ source: 'random-person' })).toBe('http://127.0.0.1:1/mirror/');
    expect(baseUrlOf({ source: 'random-person', baseUrl: 'https://people.example/' })).toBe('https://people.example/');
    expect(baseUrlOf({ source: 'ons' })).toBeUndefined();
  });

  it('anything but an absolute http(s) URL is refused, naming the flag or the variable it came from, redacted and cut short', async () => {
    delete process.env.RANDOM_PERSON_BASE_URL;
    const flag = await refusal(() => baseUrlOf({ source: 'random-person', baseUrl: 'randomuser.me' }));
    expect(flag.message).toBe('--base-url "randomuser.me" is not an absolute http:// or https:// URL');
    expect(flag.hint).toBe('write it with its scheme, e.g. https://randomuser.me');
    process.env.RANDOM_PERSON_BASE_URL = 'ftp://people.example/';
    expect((await refusal(() => baseUrlOf({ source: 'random-person' }))).message).toBe('RANDOM_PERSON_BASE_URL "ftp://people.example/" is not an absolute http:// or https:// URL');
    // `etl extract` passes the variable's value through --base-url: still named as the variable.
    expect((await refusal(() => baseUrlOf({ source: 'random-person', baseUrl: 'ftp://people.example/' }))).message).toMatch(/^RANDOM_PERSON_BASE_URL /);
    process.env.ONS_BASE_URL = 'nope';
    expect((await refusal(() => baseUrlOf({ source: 'ons' }))).hint).toBe('write it with its scheme, e.g. https://api.example.com');
    const long = await refusal(() => baseUrlOf({ source: 'random-person', baseUrl: `ftp://user:hunter2@x/${'a'.repeat(300)}` }));
    expect(long.message).not.toContain('hunter2');
    expect(long.message).toBe(`--base-url ${JSON.stringify(`ftp://REDACTED@x/${'a'.repeat(300)}`.slice(0, 200))} is not an absolute http:// or https:// URL`);
  });
});

describe('parseSourceOptions: a source\'s own flags, typed by its schema; a refusal names the flag', () => {
  it('takes the declared flags only, typed and defaulted', async () => {
    const randomPerson = findSource('random-person');
    expect(await parseSourceOptions(randomPerson, 'extract', { count: '12', seed: 'abc', input: ['x'], city: 'y' })).toEqual({ count: 12, seed: 'abc' });
    expect(await parseSourceOptions(randomPerson, 'extract', {})).toEqual({ count: 5000 });
    expect(await parseSourceOptions(randomPerson, 'transform', { count: '12', withCredentials: true })).toEqual({ withCredentials: true });
  });

  it('a bad value, a missing required flag: which flag, what was given, what is expected, and where to look', async () => {
    const bad = await refusal(parseSourceOptions(findSource('random-person'), 'extract', { count: 'twelve' }));
    expect(bad.message).toBe('option \'--count <n>\' argument "twelve" is invalid: expected a whole number in decimal digits');
    expect(bad.hint).toBe('run etl extract random-person --help for usage');
    const missing = await refusal(parseSourceOptions(findSource('postgres'), 'extract', {}));
    expect(missing.message).toBe("option '--url <postgres-url>' is required: expected --url postgres://user@host:5432/database");
    const zone = await refusal(parseSourceOptions(findSource('climatempo'), 'transform', { timezone: 'Mars/Olympus' }));
    expect(zone.message).toBe('option \'--timezone <zone>\' argument "Mars/Olympus" is invalid: expected an IANA time zone, e.g. America/Manaus');
    expect(zone.hint).toBe('run etl transform climatempo --help for usage');
  });
});

describe('the small readers of a source\'s flags', () => {
  const params = (source: string, flags: Record<string, unknown>): SourceParams => ({ source, dataset: 'x', dataDir: work, concurrency: 1, rateLimit: 0, flags });

  it('inputsOf: a non-empty list, as text; else none', () => {
    expect(inputsOf(params('ons', { input: ['a.xls', 7] }))).toEqual(['a.xls', '7']);
    expect(inputsOf(params('ons', { input: [] }))).toBeUndefined();
    expect(inputsOf(params('ons', { input: 'a.xls' }))).toBeUndefined();
    expect(inputsOf(params('ons', {}))).toBeUndefined();
  });

  it('datasetFileOf, defaultDatasetOf', () => {
    expect(datasetFileOf(params('ons', { datasetFile: 'd.json' }))).toBe('d.json');
    expect(datasetFileOf(params('ons', { datasetFile: ['d.json'] }))).toBeUndefined();
    expect(defaultDatasetOf('ons')).toBe('monthly-deaths');
    expect(defaultDatasetOf('random-person')).toBe('people');
  });

  it('instanceOf: the table a postgres pipeline names, refused when it cannot be a file name; none for other sources', async () => {
    expect(instanceOf(params('postgres', { table: 'Sales.Orders' }))).toBe('sales.orders');
    expect(instanceOf(params('postgres', {}))).toBeUndefined();
    expect(instanceOf(params('random-person', { table: 'x' }))).toBeUndefined();
    const long = `t${'a'.repeat(63)}`;
    expect((await refusal(() => instanceOf(params('postgres', { table: long })))).message).toBe(`postgres: ${JSON.stringify(`public.${long}`)} cannot name a file`);
  });
});

describe('checkPipeline: what a run would refuse, before its first request or write', () => {
  const request = (source: string, flags: Record<string, unknown>, extra: Partial<PipelineRequest> = {}): PipelineRequest => ({
    name: source,
    source: { source, dataset: findSource(source).defaultDataset, dataDir: path.join(work, 'never'), concurrency: 1, rateLimit: 0, flags },
    http: { timeoutSeconds: 5, retries: 0 },
    transform: { skipBad: false },
    load: undefined,
    noCache: false,
    stepRetries: { extract: 0, transform: 0, load: 0 },
    stepTimeouts: { extract: undefined, transform: undefined, load: undefined },
    alert: undefined,
    ...extra,
  });
  const target = (bucket: string, keyTemplate = '{name}') => ({ bucket, keyTemplate, sink: { endpoint: undefined, region: undefined }, concurrency: 1, dryRun: false, force: false });

  it('a request that is fine passes', async () => {
    await expect(checkPipeline(request('ons', { url: 'https://example.org/page', from: '2019' }, { load: target(path.join(work, 'lake')), alert: { url: 'https://hooks.example/x', onSuccess: false } }))).resolves.toBeUndefined();
  });

  it('extract flags and the base URL are checked, unless --input: then there is no extract', async () => {
    expect((await refusal(checkPipeline(request('ons', { url: 'example.org/page' })))).message).toMatch(/^option '--url <url>' argument "example\.org\/page" is invalid: not an http/);
    await expect(checkPipeline(request('ons', { url: 'example.org/page', input: ['a.xls'] }))).resolves.toBeUndefined();
    process.env.ONS_BASE_URL = 'nope';
    expect((await refusal(checkPipeline(request('ons', {})))).message).toBe('ONS_BASE_URL "nope" is not an absolute http:// or https:// URL');
    await expect(checkPipeline(request('ons', { input: ['a.xls'] }))).resolves.toBeUndefined();
  });

  it('transform flags are checked, with --input too', async () => {
    expect((await refusal(checkPipeline(request('ons', { input: ['a.xls'], from: 'later' })))).message).toMatch(/^option '--from <year>' argument "later" is invalid/);
    const zone = await refusal(checkPipeline(request('climatempo', { city: ['3477'], timezone: 'Nowhere' })));
    expect(zone.message).toMatch(/^option '--timezone <zone>'/);
    expect(zone.hint).toBe('run etl transform climatempo --help for usage');
  });

  it('the instance a postgres pipeline names', async () => {
    const long = `t${'a'.repeat(63)}`;
    expect((await refusal(checkPipeline(request('postgres', { url: 'postgres://reader@127.0.0.1:1/app', table: long })))).message).toMatch(/cannot name a file$/);
  });

  it('a declaration file is read now: missing, or not JSON', async () => {
    const missing = path.join(work, 'missing.json');
    expect((await refusal(checkPipeline(request('ons', { datasetFile: missing })))).message).toMatch(new RegExp(`^--dataset-file ${missing.replace(/[.]/g, '\\.')}: cannot read it`));
    const broken = path.join(work, 'broken.json');
    await writeFile(broken, '{');
    expect((await refusal(checkPipeline(request('ons', { datasetFile: broken })))).message).toMatch(/: not valid JSON/);
  });

  it('the destination: its form and its key template', async () => {
    expect((await refusal(checkPipeline(request('random-person', {}, { load: target('lake') })))).message).toMatch(/lake/);
    expect((await refusal(checkPipeline(request('random-person', {}, { load: target(path.join(work, 'lake'), '{nope}') })))).message).toMatch(/\{nope\}/);
  });

  it('the alert webhook: an http(s) URL, never echoed', async () => {
    const error = await refusal(checkPipeline(request('random-person', {}, { alert: { url: 'ftp://hooks.example/T0KEN', onSuccess: false } })));
    expect(error.message).toBe('the alert webhook (--alert-url, ETL_ALERT_URL or alert.url) is not an http:// or https:// URL');
    expect(error.hint).toBe('write it as https://hooks.example/…');
    await expect(checkPipeline(request('random-person', {}, { alert: { url: 'http://127.0.0.1:1/hook', onSuccess: true } }))).resolves.toBeUndefined();
  });
});

/** What JSON.parse itself says about `text`. */
function jsonProblem(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parses`);
}

describe('parseConfigText: JSON or YAML, parsed on a worker thread', () => {
  it('parses both; a syntax error is one line naming the file and the format, with a hint', async () => {
    expect(await parseConfigText('{"pipelines": {"a": {"source": "ons"}}}', true, 'etl.json')).toEqual({ pipelines: { a: { source: 'ons' } } });
    expect(await parseConfigText('pipelines:\n  a:\n    source: ons\n', false, 'etl.yaml')).toEqual({ pipelines: { a: { source: 'ons' } } });
    const json = await refusal(parseConfigText('{"pipelines": ', true, 'etl.json'));
    expect(json.message).toBe(`etl.json: not valid JSON: ${jsonProblem('{"pipelines": ')}`);
    expect(json.hint).toBe('fix the syntax at the position given');
    const yaml = await refusal(parseConfigText('pipelines: [a\n  b: c\n', false, 'etl.yaml'));
    // The parser's message runs over several lines (it draws the spot); only its first is kept.
    expect(yaml.message).toMatch(/^etl\.yaml: not valid YAML: \S[^\n]{20,}$/);
    expect(yaml.hint).toBe('fix the syntax at the position given');
  });
});
