import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { MAX_CONFIG_BYTES, MAX_PIPELINES, MAX_VALUE_CHARS, readConfigFile, resolveParams, substitute, validateConfig, type PipelineConfig } from '../../src/run/config.js';

/**
 * A cron user's pipeline file, checked in-process (src/run/config.ts) so that Stryker sees its mutants: every bad field
 * is named by its path in one message before anything runs, and what is accepted is what runs. test/run/config.test.ts
 * and config-limits.test.ts hold the same through the built CLI.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-config-validate-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

function problems(data: unknown): string {
  try {
    validateConfig(data, 'etl.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).hint).toBe('see etl.config.schema.json for every field');
    return (error as Error).message;
  }
  throw new Error('accepted');
}
const one = (pipeline: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ ...top, pipelines: { weekly: { source: 'ons', dataset: 'weekly-deaths', ...pipeline } } });

describe('validateConfig: what is accepted', () => {
  it('a whole pipeline: options, destination, steps, params, data_dir and alert, the top level ones inherited', () => {
    const [weekly, monthly] = validateConfig(
      {
        $schema: './etl.config.schema.json',
        data_dir: '/srv/etl',
        alert: { url: 'https://hooks.example/x' },
        pipelines: {
          weekly: {
            source: 'ons',
            dataset: 'weekly-deaths',
            params: { first: { type: 'integer', default: 2015, description: 'first edition' }, tags: { type: 'list' } },
            options: { from: '${first}', skip_bad: true, input: ['a.xls', '${first}.xls'], concurrency: 0 },
            destination: { bucket: 's3://lake/', region: 'eu-west-2' },
            steps: { extract: { retries: 2, timeout: 1 }, load: { retries: 0 } },
          },
          monthly: { source: 'ons', data_dir: '/srv/other', alert: { url: 'http://hooks.example/y', on_success: true } },
        },
      },
      'etl.yaml',
    );
    expect(weekly).toEqual({
      name: 'weekly',
      source: 'ons',
      dataset: 'weekly-deaths',
      dataDir: '/srv/etl',
      params: { first: { type: 'integer', default: 2015 }, tags: { type: 'list' } },
      options: { from: '${first}', skip_bad: true, input: ['a.xls', '${first}.xls'], concurrency: 0 },
      destination: { bucket: 's3://lake/', region: 'eu-west-2' },
      stepRetries: { extract: 2, load: 0 },
      stepTimeouts: { extract: 1 },
      alert: { url: 'https://hooks.example/x', onSuccess: false },
    });
    expect(monthly).toEqual({ name: 'monthly', source: 'ons', dataset: undefined, dataDir: '/srv/other', params: {}, options: {}, destination: undefined, stepRetries: {}, stepTimeouts: {}, alert: { url: 'http://hooks.example/y', onSuccess: true } });
  });
});

describe('validateConfig: defaults of each parameter type, and each field kind, accepted when right', () => {
  it('string, integer, boolean and list defaults; a number or a string where a string-or-number goes; a list of strings', () => {
    const [p] = validateConfig(
      one({
        params: { s: { type: 'string', default: 'x' }, n: { type: 'integer', default: -3 }, b: { type: 'boolean', default: false }, l: { type: 'list', default: ['a', 'b'] }, e: { type: 'list', default: [] } },
        options: { to: 2021, from: '2019', input: [], skip_bad: false, out: '${s}.parquet' },
      }),
      'etl.yaml',
    );
    expect(p!.params).toEqual({ s: { type: 'string', default: 'x' }, n: { type: 'integer', default: -3 }, b: { type: 'boolean', default: false }, l: { type: 'list', default: ['a', 'b'] }, e: { type: 'list', default: [] } });
    expect(p!.options).toEqual({ to: 2021, from: '2019', input: [], skip_bad: false, out: '${s}.parquet' });
    expect(resolveParams(p!, [], 'etl.yaml')).toEqual({ s: 'x', n: -3, b: false, l: ['a', 'b'], e: [] });
  });
});

describe('validateConfig: every problem, by file and field path, in one message', () => {
  it.each([
    [{ pipelines: {} }, 'etl.yaml: pipelines: declares no pipeline'],
    [null, 'etl.yaml: the top level: expected a mapping, got null'],
    [{}, 'etl.yaml: pipelines: expected a mapping, got nothing'],
    [{ pipelines: { weekly: 'ons' } }, 'etl.yaml: pipelines.weekly: expected a mapping, got "ons"'],
    [{ pipelines: {}, extra: 1 }, 'etl.yaml: 2 errors: extra: unknown field (expected one of: data_dir, alert, pipelines); pipelines: declares no pipeline'],
    [one({ color: 'red' }), 'etl.yaml: pipelines.weekly.color: unknown field (expected one of: source, dataset, data_dir, params, options, destination, steps, alert)'],
    [{ pipelines: { 'a/b': { source: 'ons' } } }, 'etl.yaml: pipelines.a/b: a pipeline name is letters, digits, - and _, starting with a letter or digit, at most 64 characters'],
    [one({ source: 'onz' }), 'etl.yaml: pipelines.weekly.source: unknown source "onz" (did you mean "ons"? etl has ons, climatempo, random-person, supermetrics, postgres)'],
    [one({ source: 'Random-Persn' }), 'etl.yaml: pipelines.weekly.source: unknown source "Random-Persn" (did you mean "random-person"? etl has ons, climatempo, random-person, supermetrics, postgres)'],
    [one({ source: 'nothing-like-it' }), 'etl.yaml: pipelines.weekly.source: unknown source "nothing-like-it" (etl has ons, climatempo, random-person, supermetrics, postgres)'],
    [one({ source: '' }), 'etl.yaml: pipelines.weekly.source: expected a non-empty string, got ""'],
    [one({ dataset: '../x' }), 'etl.yaml: pipelines.weekly.dataset: "../x" is not a name etl accepts: letters, digits, - and _, starting with a letter or digit, at most 64 characters'],
    [one({ dataset: 5 }), 'etl.yaml: pipelines.weekly.dataset: expected a non-empty string, got 5'],
    [one({ data_dir: false }), 'etl.yaml: pipelines.weekly.data_dir: expected a non-empty string, got false'],
    [one({}, { data_dir: 3 }), 'etl.yaml: data_dir: expected a non-empty string, got 3'],
    [one({ options: { skip_bad: 'yes' } }), 'etl.yaml: pipelines.weekly.options.skip_bad: expected true or false, got "yes"'],
    [one({ options: { input: ['a', 1] } }), 'etl.yaml: pipelines.weekly.options.input: expected a list of strings, got ["a",1]'],
    [one({ options: { input: 'a.xls' } }), 'etl.yaml: pipelines.weekly.options.input: expected a list of strings, got "a.xls"'],
    [one({ options: { from: true } }), 'etl.yaml: pipelines.weekly.options.from: expected a string or a number, got true'],
    [one({ options: { from: '' } }), 'etl.yaml: pipelines.weekly.options.from: expected a string or a number, got ""'],
    [one({ options: { concurrency: 1.5 } }), 'etl.yaml: pipelines.weekly.options.concurrency: expected a whole number of 0 or more, got 1.5'],
    [one({ options: { out: 'x/${nope}.parquet' } }), 'etl.yaml: pipelines.weekly.options.out: refers to ${nope}, which is not declared under params'],
    [one({ options: { input: ['${a}', '${b}'] }, params: { a: { type: 'string' } } }), 'etl.yaml: pipelines.weekly.options.input: refers to ${b}, which is not declared under params'],
    [one({ options: 'fast' }), 'etl.yaml: pipelines.weekly.options: expected a mapping, got "fast"'],
    [one({ destination: { bucket: '' } }), 'etl.yaml: pipelines.weekly.destination.bucket: expected a non-empty string, got ""'],
    [one({ destination: { bucket: 's3://b/', acl: 'public' } }), 'etl.yaml: pipelines.weekly.destination.acl: unknown field (expected one of: bucket, key, endpoint, region)'],
    [one({ steps: { extract: { timeout: 0 } } }), 'etl.yaml: pipelines.weekly.steps.extract.timeout: expected a whole number of 1 or more'],
    [one({ steps: { load: { wait: 1 } } }), 'etl.yaml: pipelines.weekly.steps.load.wait: unknown field (expected one of: retries, timeout)'],
    [one({ steps: [] }), 'etl.yaml: pipelines.weekly.steps: expected a mapping, got []'],
    [one({ alert: { on_success: true } }), 'etl.yaml: pipelines.weekly.alert.url: is required'],
    [one({}, { alert: { url: 'https://x', on_success: 'no' } }), 'etl.yaml: alert.on_success: expected true or false, got "no"'],
    [one({ params: { first: { type: 'integer', default: 1.5 } } }), 'etl.yaml: pipelines.weekly.params.first.default: expected an integer, got 1.5'],
    [one({ params: { flag: { type: 'boolean', default: 'true' } } }), 'etl.yaml: pipelines.weekly.params.flag.default: expected a boolean, got "true"'],
    [one({ params: { l: { type: 'list', default: 'a' } } }), 'etl.yaml: pipelines.weekly.params.l.default: expected a list, got "a"'],
    [one({ params: { l: { type: 'list', default: [1] } } }), 'etl.yaml: pipelines.weekly.params.l.default: expected a list, got [1]'],
    [one({ params: { s: { type: 'string', default: 1 } } }), 'etl.yaml: pipelines.weekly.params.s.default: expected a string, got 1'],
    [one({ params: { s: { type: 'string', unit: 'kg' } } }), 'etl.yaml: pipelines.weekly.params.s.unit: unknown field (expected one of: type, default, description)'],
    [one({ params: { constructor: { type: 'string' } } }), 'etl.yaml: pipelines.weekly.params.constructor: constructor cannot name a parameter (it means something else to JavaScript objects)'],
    [one({ params: { s: 'string' } }), 'etl.yaml: pipelines.weekly.params.s: expected a mapping, got "string"'],
  ])('%j', (data, message) => {
    expect(problems(data)).toBe(message);
  });

  it('a declared parameter of a bad type is not also reported as undeclared where it is used', () => {
    expect(problems(one({ params: { first: { type: 'date' } }, options: { from: '${first}' } }))).toBe(
      'etl.yaml: pipelines.weekly.params.first.type: expected one of string, integer, boolean, list, got "date"',
    );
  });

  it('the first 20 problems are listed, then how many more', () => {
    const pipelines = Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`p${String(i).padStart(2, '0')}`, { source: 'ons', color: i }]));
    const message = problems({ pipelines });
    expect(message.startsWith('etl.yaml: 23 errors: pipelines.p00.color: unknown field')).toBe(true);
    expect(message.split('; ').filter((part) => part.includes('unknown field'))).toHaveLength(20);
    expect(message).toContain('pipelines.p19.color');
    expect(message).not.toContain('pipelines.p20.color');
    expect(message.endsWith('; and 3 more')).toBe(true);
  });

  it('sizes first: a value or a key over the cap, or too many pipelines, is refused by its path before the rest is read', () => {
    const long = 'x'.repeat(MAX_VALUE_CHARS + 1);
    expect(problems(one({ options: { url: long, color: 1 } }))).toBe(`etl.yaml: pipelines.weekly.options.url: a value of ${MAX_VALUE_CHARS + 1} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    expect(problems(one({ options: { input: ['a', long] } }))).toBe(`etl.yaml: pipelines.weekly.options.input[1]: a value of ${MAX_VALUE_CHARS + 1} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    expect(problems(long)).toBe(`etl.yaml: the top level: a value of ${MAX_VALUE_CHARS + 1} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    expect(problems({ [long]: 1 })).toBe(`etl.yaml: the top level: a key of ${MAX_VALUE_CHARS + 1} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    expect(problems(one({ options: { [long]: 1 } }))).toBe(`etl.yaml: pipelines.weekly.options: a key of ${MAX_VALUE_CHARS + 1} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    // Exactly at the cap is fine (the field is then judged as usual).
    expect(validateConfig(one({ options: { url: 'x'.repeat(MAX_VALUE_CHARS) } }), 'etl.yaml')[0]!.options.url).toHaveLength(MAX_VALUE_CHARS);
    const many = (n: number) => ({ pipelines: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { source: 'ons' }])) });
    expect(problems(many(MAX_PIPELINES + 1))).toBe(`etl.yaml: pipelines: ${MAX_PIPELINES + 1} pipelines, more than a config file may declare (${MAX_PIPELINES})`);
    expect(validateConfig(many(MAX_PIPELINES), 'etl.yaml')).toHaveLength(MAX_PIPELINES);
  });
});

describe('parameters', () => {
  const pipeline = (params: PipelineConfig['params']): PipelineConfig => ({ name: 'weekly', source: 'ons', params, options: {}, stepRetries: {}, stepTimeouts: {} });
  const refused = (p: PipelineConfig, overrides: string[]): { message: string; hint: string } => {
    try {
      resolveParams(p, overrides, 'etl.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return { message: (error as Error).message, hint: (error as ConfigError).hint! };
    }
    throw new Error('accepted');
  };

  it('--param values are parsed by the declared type; a default stands unless overridden', () => {
    const p = pipeline({ cities: { type: 'list' }, dry: { type: 'boolean', default: false }, n: { type: 'integer', default: 3 }, label: { type: 'string' } });
    expect(resolveParams(p, ['cities= 3477, ,5959 ', 'dry=true', 'n=-2', 'label=a=b'], 'etl.yaml')).toEqual({ cities: ['3477', '5959'], dry: true, n: -2, label: 'a=b' });
    expect(resolveParams(p, ['cities=1', 'label=', 'dry=false'], 'etl.yaml')).toEqual({ cities: ['1'], dry: false, n: 3, label: '' });
    expect(resolveParams(p, ['cities=1', 'label=x\ny'], 'etl.yaml').label).toBe('x\ny');
  });

  it('each wrong --param is a usage error naming it and what is declared', () => {
    const p = pipeline({ n: { type: 'integer', default: 3 }, flag: { type: 'boolean', default: true } });
    expect(refused(p, ['n'])).toEqual({ message: '--param n: expected name=value', hint: 'e.g. --param city=3477,5959' });
    expect(refused(p, ['=3'])).toEqual({ message: '--param =3: expected name=value', hint: 'e.g. --param city=3477,5959' });
    expect(refused(p, ['n=3.5'])).toEqual({ message: '--param n=3.5: expected a whole number', hint: 'n is declared as integer' });
    expect(refused(p, ['n=x3'])).toEqual({ message: '--param n=x3: expected a whole number', hint: 'n is declared as integer' });
    expect(refused(p, ['flag=yes'])).toEqual({ message: '--param flag=yes: expected true or false', hint: 'flag is declared as boolean' });
    expect(refused(p, ['city=1'])).toEqual({ message: '--param city: pipeline weekly declares no such parameter', hint: 'declared: n, flag (in etl.yaml)' });
    expect(refused(pipeline({}), ['city=1'])).toEqual({ message: '--param city: pipeline weekly declares no such parameter', hint: 'declared: none (in etl.yaml)' });
    expect(refused(p, ['__proto__=1'])).toEqual({ message: '--param __proto__: __proto__ cannot name a parameter', hint: 'declared: n, flag (in etl.yaml)' });
    expect(refused(pipeline({}), ['toString=1']).message).toBe('--param toString: pipeline weekly declares no such parameter');
    expect(refused(pipeline({ a: { type: 'string' }, b: { type: 'string' } }), ['a=1'])).toEqual({ message: 'pipeline weekly: parameter b has no default and no value', hint: 'pass --param b=…' });
  });

  it('substitute: a whole reference keeps its type, a list reference spreads into a list, others are written into the text; the result is checked', () => {
    const values = { first: 2019, cities: ['1', '2'], tag: 'recent', yes: true };
    expect(substitute({ from: '${first}', input: ['a', '${cities}', 'b-${tag}'], out: 'out/${tag}-${first}.parquet', skip_bad: '${yes}', concurrency: 2 }, values, 'pipelines.weekly.options', 'etl.yaml')).toEqual({
      from: 2019,
      input: ['a', '1', '2', 'b-recent'],
      out: 'out/recent-2019.parquet',
      skip_bad: true,
      concurrency: 2,
    });
    expect(substitute({ bucket: 's3://${tag}/' }, values, 'pipelines.weekly.destination', 'etl.yaml')).toEqual({ bucket: 's3://recent/' });
    let error: unknown;
    try {
      substitute({ bucket: '${tag}' }, { tag: '' }, 'pipelines.weekly.destination', 'etl.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('etl.yaml: pipelines.weekly.destination.bucket: expected a non-empty string, got "" (after parameters were filled in)');
    expect((error as ConfigError).hint).toBe('check the parameter values and types');
  });
});

describe('readConfigFile', () => {
  it('no file, a folder, a JSON file and a YAML file', async () => {
    await expect(readConfigFile(path.join(work, 'none.yaml'))).rejects.toThrow(`--config ${path.join(work, 'none.yaml')}: no such file`);
    await mkdir(path.join(work, 'folder.yaml'));
    await expect(readConfigFile(path.join(work, 'folder.yaml'))).rejects.toThrow(`--config ${path.join(work, 'folder.yaml')}: not a file`);
    const json = path.join(work, 'etl.JSON');
    await writeFile(json, JSON.stringify({ pipelines: { weekly: { source: 'ons' } } }));
    expect((await readConfigFile(json)).pipelines.map((p) => p.name)).toEqual(['weekly']);
    const yaml = path.join(work, 'etl.yaml');
    await writeFile(yaml, 'pipelines:\n  monthly:\n    source: ons\n');
    expect(await readConfigFile(yaml)).toMatchObject({ file: yaml, pipelines: [{ name: 'monthly', source: 'ons' }] });
    await writeFile(yaml, 'pipelines:\n  monthly:\n    source: onz\n');
    await expect(readConfigFile(yaml)).rejects.toThrow(`${yaml}: pipelines.monthly.source: unknown source "onz"`);
  });

  it('what to do about a missing file, a folder, a file over the size cap (refused unread), and only a name ending .json is JSON', async () => {
    const missing = (await readConfigFile(path.join(work, 'gone.yaml')).catch((e: unknown) => e)) as ConfigError;
    expect(missing.hint).toBe('give the path of a YAML or JSON pipeline file');
    await mkdir(path.join(work, 'dir.json'), { recursive: true });
    expect(((await readConfigFile(path.join(work, 'dir.json')).catch((e: unknown) => e)) as ConfigError).hint).toBe('give the path of a YAML or JSON pipeline file');
    // One byte over 4 MiB, sparse: refused by its size before a byte is read.
    const big = path.join(work, 'big.yaml');
    await writeFile(big, '');
    await truncate(big, MAX_CONFIG_BYTES + 1);
    const tooBig = (await readConfigFile(big).catch((e: unknown) => e)) as ConfigError;
    expect(tooBig.message).toBe(`${big}: ${MAX_CONFIG_BYTES + 1} bytes, more than a config file may hold (4 MiB)`);
    expect(tooBig.hint).toBe('a pipeline file declares pipelines, not data: put data in files the pipelines read');
    // YAML in a file whose name only contains .json: read as YAML.
    const yaml = path.join(work, 'etl.json.yaml');
    await writeFile(yaml, 'pipelines:\n  monthly:\n    source: ons\n');
    expect((await readConfigFile(yaml)).pipelines.map((p) => p.name)).toEqual(['monthly']);
  });

  it('a file that does not parse: one line naming the file, the format and the first line of the problem', async () => {
    const yaml = path.join(work, 'broken.yaml');
    await writeFile(yaml, 'pipelines:\n  weekly: [unclosed\n');
    const bad = await readConfigFile(yaml).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as Error).message).toMatch(new RegExp(`^${yaml.replace(/[.]/g, '\\.')}: not valid YAML: \\S`));
    expect((bad as Error).message).not.toContain('\n');
    expect((bad as ConfigError).hint).toBe('fix the syntax at the position given');
    const json = path.join(work, 'broken.json');
    await writeFile(json, '{"pipelines": ');
    await expect(readConfigFile(json)).rejects.toThrow(new RegExp(`^${json.replace(/[.]/g, '\\.')}: not valid JSON: `));
    const aliases = path.join(work, 'aliases.yaml');
    await writeFile(aliases, `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(12).fill('*a').join(', ')}]\nc: [${Array(12).fill('*b').join(', ')}]\n`);
    const laughs = await readConfigFile(aliases).catch((e: unknown) => e);
    expect((laughs as Error).message).toMatch(/: not valid YAML: /);
    expect((laughs as ConfigError).hint).toBe('YAML aliases (*name) may be expanded at most 100 times in one file: write the values out');
  });
});
