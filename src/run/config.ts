import { readFile, stat } from 'node:fs/promises';
import { Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { IDENTIFIER_RULE, isIdentifier, showName } from '../core/names.js';
import { sources } from '../sources/index.js';
import { parseConfigText } from './parse-config.js';

/**
 * Pipelines declared in a file (YAML or JSON), several per file:
 *
 *   data_dir: /srv/etl/data
 *   alert: { url: https://hooks.example/T0/B0/x, on_success: false }
 *   pipelines:
 *     weekly:
 *       source: ons
 *       dataset: weekly-deaths
 *       params: { first_year: { type: integer, default: 2015 } }
 *       options: { from: "${first_year}", skip_bad: true }
 *       destination: { bucket: s3://lake/ons/, region: eu-west-2 }
 *       steps: { extract: { retries: 2 } }
 *
 * Every field is checked before anything runs; an error names the field's path. The same table of fields
 * produces the published JSON Schema (etl.config.schema.json), so the two cannot drift apart.
 */
type FieldType = 'string' | 'integer' | 'year' | 'boolean' | 'string-list' | 'text';

interface FieldSpec {
  type: FieldType;
  description: string;
}

/** Step flags a pipeline may set under `options`, by their snake_case names (`--skip-bad` -> skip_bad). */
export const OPTION_FIELDS: Record<string, FieldSpec> = {
  // The general fields below win where a name is shared.
  ...sourceOptionFields(),
  url: { type: 'string', description: "another copy of the source's page: a mirror or a local server (--url)" },
  from: { type: 'text', description: 'ons: first edition year to include; supermetrics: first day, YYYY-MM-DD (--from)' },
  to: { type: 'text', description: 'ons: last edition year to include; supermetrics: last day, YYYY-MM-DD (--to)' },
  base_url: { type: 'string', description: "where the source's API lives (--base-url)" },
  concurrency: { type: 'integer', description: 'downloads and uploads at once (--concurrency)' },
  timeout: { type: 'integer', description: 'seconds before a silent connection is given up (--timeout)' },
  download_timeout: { type: 'integer', description: 'seconds for one file or the page, retries included (--download-timeout)' },
  retries: { type: 'integer', description: 'extra attempts per request on 429, 5xx and network errors (--retries)' },
  max_links: { type: 'integer', description: 'refuse a page with more workbook links than this (--max-links)' },
  input: { type: 'string-list', description: 'workbooks or directories to read instead of extracting (--input)' },
  dataset_file: { type: 'string', description: 'a dataset declaration (JSON) instead of the built-in dataset (--dataset-file)' },
  out: { type: 'string', description: 'parquet file to write (--out)' },
  skip_bad: { type: 'boolean', description: 'leave out a workbook that does not look as declared (--skip-bad)' },
  partition_by: { type: 'string', description: 'Hive-partition the output by this column (--partition-by)' },
  format: { type: 'string', description: 'parquet (default) or delta: write a Delta Lake table, one commit per run (--format)' },
  merge_key: { type: 'string', description: 'with format delta: key columns, comma-separated; rows with a key already in the table replace it (--merge-key)' },
};

/** Every source's own flags (climatempo --city, random-person --count, …) by their snake_case names. */
function sourceOptionFields(): Record<string, FieldSpec> {
  const fields: Record<string, FieldSpec> = {};
  for (const source of sources) {
    for (const flag of [...source.extractOptions.flags, ...source.transformOptions.flags]) {
      const option = new Option(flag.flags, flag.description);
      const type: FieldType = flag.list ? 'string-list' : option.isBoolean() ? 'boolean' : 'text';
      fields[snakeCase(option.attributeName())] ??= { type, description: `${source.name}: ${flag.description} (${option.long})` };
    }
  }
  return fields;
}

export function snakeCase(attribute: string): string {
  return attribute.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export const DESTINATION_FIELDS: Record<string, FieldSpec> = {
  bucket: { type: 'string', description: 'gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/ or a directory path (--bucket)' },
  key: { type: 'string', description: 'object key below the prefix; placeholders {name}, {date}, {edition} (--key)' },
  endpoint: { type: 'string', description: 'an emulator or S3-compatible server (--endpoint)' },
  region: { type: 'string', description: 'S3 region (--region)' },
};

export const STEP_FIELDS: Record<string, FieldSpec> = {
  retries: { type: 'integer', description: 'extra attempts of the whole step after a failure that may pass next time' },
  timeout: { type: 'integer', description: 'seconds the step may take, retries included; past it the run stops with the step\'s exit code (--step-timeout)' },
};

export const ALERT_FIELDS: Record<string, FieldSpec> = {
  url: { type: 'string', description: 'webhook that receives a JSON POST (or ETL_ALERT_URL)' },
  on_success: { type: 'boolean', description: 'also alert when the run succeeds' },
};

export const PARAM_TYPES = ['string', 'integer', 'boolean', 'list'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];
export type ParamValue = string | number | boolean | string[];
export const STEP_NAMES = ['extract', 'transform', 'load'] as const;

export interface ParamSpec {
  type: ParamType;
  default?: ParamValue;
  description?: string;
}

export interface PipelineConfig {
  name: string;
  source: string;
  dataset?: string;
  dataDir?: string;
  params: Record<string, ParamSpec>;
  options: Record<string, unknown>;
  destination?: Record<string, unknown>;
  stepRetries: Partial<Record<(typeof STEP_NAMES)[number], number>>;
  stepTimeouts: Partial<Record<(typeof STEP_NAMES)[number], number>>;
  alert?: { url: string; onSuccess: boolean };
}

export interface ConfigFile {
  file: string;
  pipelines: PipelineConfig[];
}

/** Limits of a config file, checked before it is read and parsed: a few pipelines of a few fields are kilobytes. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
export const MAX_PIPELINES = 1000;
/** Characters in any one value or key (a URL, a path, a list item). */
export const MAX_VALUE_CHARS = 16 * 1024;
/** Errors listed in one message; the count says how many there were. */
const MAX_LISTED_ERRORS = 20;

export async function readConfigFile(file: string): Promise<ConfigFile> {
  const info = await stat(file).catch(() => {
    throw new ConfigError(`--config ${file}: no such file`, { hint: 'give the path of a YAML or JSON pipeline file' });
  });
  if (!info.isFile()) throw new ConfigError(`--config ${file}: not a file`, { hint: 'give the path of a YAML or JSON pipeline file' });
  if (info.size > MAX_CONFIG_BYTES) {
    throw new ConfigError(`${file}: ${info.size} bytes, more than a config file may hold (${MAX_CONFIG_BYTES / 1024 / 1024} MiB)`, { hint: 'a pipeline file declares pipelines, not data: put data in files the pipelines read' });
  }
  const text = await readFile(file, 'utf8').catch(() => {
    throw new ConfigError(`--config ${file}: cannot read it`, { hint: 'give the path of a YAML or JSON pipeline file' });
  });
  const data = await parseConfigText(text, /\.json$/i.test(file), file);
  return { file, pipelines: validateConfig(data, file) };
}

/** Thrown by `fail` to leave the part being checked; the problem is already recorded. */
const SKIP = Symbol('skip');

/**
 * The pipelines of a parsed config, or one ConfigError listing every bad field by its path (the file named first).
 * Sizes are checked first: a value or a pipeline count past the limits is refused before anything else is read.
 */
export function validateConfig(data: unknown, file: string): PipelineConfig[] {
  const problems: string[] = [];
  const note = (at: string, problem: string): void => {
    problems.push(`${at}: ${problem}`);
  };
  const fail = (at: string, problem: string): never => {
    note(at, problem);
    throw SKIP;
  };
  const keep = <T>(work: () => T): T | undefined => {
    try {
      return work();
    } catch (error) {
      if (error === SKIP) return undefined;
      throw error;
    }
  };
  const pipelines = keep(() => {
    checkSizes(data, fail);
    return configOf(data, fail, note, keep);
  });
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_ERRORS).join('; ') + (problems.length > MAX_LISTED_ERRORS ? `; and ${problems.length - MAX_LISTED_ERRORS} more` : '');
    throw new ConfigError(`${file}: ${problems.length === 1 ? '' : `${problems.length} errors: `}${listed}`, { hint: 'see etl.config.schema.json for every field' });
  }
  return pipelines!;
}

/** No value or key longer than MAX_VALUE_CHARS, no more than MAX_PIPELINES pipelines; walked without recursion. */
function checkSizes(data: unknown, fail: Fail): void {
  const pipelines = (data as { pipelines?: unknown } | null)?.pipelines;
  if (typeof pipelines === 'object' && pipelines !== null && !Array.isArray(pipelines)) {
    const count = Object.keys(pipelines).length;
    if (count > MAX_PIPELINES) fail('pipelines', `${count} pipelines, more than a config file may declare (${MAX_PIPELINES})`);
  }
  const pending: Array<[unknown, string]> = [[data, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, at] = next;
    const long = (text: string): boolean => text.length > MAX_VALUE_CHARS;
    if (typeof value === 'string' && long(value)) fail(at || 'the top level', `a value of ${value.length} characters, more than one may hold (${MAX_VALUE_CHARS})`);
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, item] of Object.entries(value)) {
      const where = Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key;
      if (long(key)) fail(`${at || 'the top level'}`, `a key of ${key.length} characters, more than one may hold (${MAX_VALUE_CHARS})`);
      pending.push([item, where]);
    }
  }
}

type Note = (at: string, problem: string) => void;
type Keep = <T>(work: () => T) => T | undefined;

function configOf(data: unknown, fail: Fail, note: Note, keep: Keep): PipelineConfig[] {
  const root = object(data, 'the top level', fail);
  onlyKeys(root, ['$schema', 'data_dir', 'alert', 'pipelines'], '', note);
  const dataDir = keep(() => (root.data_dir === undefined ? undefined : check(root.data_dir, 'string', 'data_dir', fail)));
  const alert = keep(() => (root.alert === undefined ? undefined : alertOf(root.alert, 'alert', fail, note, keep)));
  const pipelines = object(root.pipelines, 'pipelines', fail);
  if (Object.keys(pipelines).length === 0) fail('pipelines', 'declares no pipeline');
  return Object.entries(pipelines).map(([name, value]) => keep(() => pipelineOf(name, value, { dataDir, alert }, fail, note, keep))!);
}

function pipelineOf(name: string, value: unknown, defaults: { dataDir: string | undefined; alert: PipelineConfig['alert'] }, fail: Fail, note: Note, keep: Keep): PipelineConfig {
  const at = `pipelines.${name}`;
  if (!isIdentifier(name)) note(at, `a pipeline name is ${IDENTIFIER_RULE}`);
  const pipeline = object(value, at, fail);
  onlyKeys(pipeline, ['source', 'dataset', 'data_dir', 'params', 'options', 'destination', 'steps', 'alert'], at, note);
  const params = keep(() => paramsOf(pipeline.params, `${at}.params`, fail, note, keep)) ?? {};
  const options = keep(() => fieldsOf(pipeline.options, OPTION_FIELDS, `${at}.options`, fail, note, keep, params));
  const destination = keep(() => {
    if (pipeline.destination === undefined) return undefined;
    const fields = fieldsOf(pipeline.destination, DESTINATION_FIELDS, `${at}.destination`, fail, note, keep, params);
    if (fields.bucket === undefined) note(`${at}.destination.bucket`, 'is required');
    return fields;
  });
  const stepRetries: PipelineConfig['stepRetries'] = {};
  const stepTimeouts: PipelineConfig['stepTimeouts'] = {};
  keep(() => {
    const steps = pipeline.steps === undefined ? {} : object(pipeline.steps, `${at}.steps`, fail);
    onlyKeys(steps, STEP_NAMES, `${at}.steps`, note);
    for (const step of STEP_NAMES) {
      if (steps[step] === undefined) continue;
      keep(() => {
        const fields = fieldsOf(steps[step], STEP_FIELDS, `${at}.steps.${step}`, fail, note, keep, {});
        if (typeof fields.retries === 'number') stepRetries[step] = fields.retries;
        if (typeof fields.timeout === 'number') {
          if (fields.timeout < 1) fail(`${at}.steps.${step}.timeout`, 'expected a whole number of 1 or more');
          stepTimeouts[step] = fields.timeout;
        }
      });
    }
  });
  const source = keep(() => sourceName(pipeline.source, `${at}.source`, fail));
  const dataset = keep(() => (pipeline.dataset === undefined ? undefined : identifier(pipeline.dataset, `${at}.dataset`, fail)));
  const dataDir = keep(() => (pipeline.data_dir === undefined ? defaults.dataDir : check(pipeline.data_dir, 'string', `${at}.data_dir`, fail)));
  const alert = keep(() => (pipeline.alert === undefined ? defaults.alert : alertOf(pipeline.alert, `${at}.alert`, fail, note, keep)));
  return { name, source: source!, dataset, dataDir, params, options: options ?? {}, destination, stepRetries, stepTimeouts, alert };
}

/** A source etl has; a near miss (`onz`) gets the likely name. */
function sourceName(value: unknown, at: string, fail: Fail): string {
  const name = check(value, 'string', at, fail);
  if (sources.some((source) => source.name === name)) return name;
  const near = sources.map((source) => source.name).filter((known) => editDistance(known, name.toLowerCase()) <= Math.max(1, Math.floor(known.length / 3)));
  const guess = near.length > 0 ? `did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}? ` : '';
  return fail(at, `unknown source ${JSON.stringify(name)} (${guess}etl has ${sources.map((source) => source.name).join(', ')})`);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

type Fail = (at: string, problem: string) => never;

/** A dataset name picks folders under the data dir: an identifier, never a path. */
function identifier(value: unknown, at: string, fail: Fail): string {
  const name = check(value, 'string', at, fail);
  return isIdentifier(name) ? name : fail(at, `${showName(name)} is not a name etl accepts: ${IDENTIFIER_RULE}`);
}

function object(value: unknown, at: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(at, `expected a mapping, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], at: string, note: Note): void {
  for (const unknown of Object.keys(value).filter((key) => !allowed.includes(key))) {
    note(at ? `${at}.${unknown}` : unknown, `unknown field (expected one of: ${allowed.filter((k) => k !== '$schema').join(', ')})`);
  }
}

function alertOf(value: unknown, at: string, fail: Fail, note: Note, keep: Keep): { url: string; onSuccess: boolean } {
  const fields = fieldsOf(value, ALERT_FIELDS, at, fail, note, keep, {});
  if (typeof fields.url !== 'string') return fail(`${at}.url`, 'is required');
  return { url: fields.url, onSuccess: fields.on_success === true };
}

/** Names a parameter cannot have: as object keys they reach Object.prototype, and `--param __proto__=x` was accepted. */
const RESERVED_PARAM_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function paramsOf(value: unknown, at: string, fail: Fail, note: Note, keep: Keep): Record<string, ParamSpec> {
  // Null-prototype: a parameter named constructor or toString is a key like any other, never Object.prototype's.
  const params: Record<string, ParamSpec> = Object.create(null) as Record<string, ParamSpec>;
  if (value === undefined) return params;
  for (const [name, raw] of Object.entries(object(value, at, fail))) {
    keep(() => {
      if (RESERVED_PARAM_NAMES.has(name)) fail(`${at}.${name}`, `${name} cannot name a parameter (it means something else to JavaScript objects)`);
      const spec = object(raw, `${at}.${name}`, fail);
      onlyKeys(spec, ['type', 'default', 'description'], `${at}.${name}`, note);
      const type = spec.type as ParamType;
      // Declared even when wrong, so that its uses are not reported as undeclared too.
      params[name] = { type, ...(spec.default === undefined ? {} : { default: spec.default as ParamValue }) };
      if (!PARAM_TYPES.includes(type)) fail(`${at}.${name}.type`, `expected one of ${PARAM_TYPES.join(', ')}, got ${describe(spec.type)}`);
      if (spec.default !== undefined && !hasParamType(spec.default, type)) fail(`${at}.${name}.default`, `expected ${type === 'integer' ? 'an' : 'a'} ${type}, got ${describe(spec.default)}`);
    });
  }
  return params;
}

/** Checks each field against its spec; a string that is exactly `${param}` is checked when the parameter is resolved. */
function fieldsOf(value: unknown, specs: Record<string, FieldSpec>, at: string, fail: Fail, note: Note, keep: Keep, params: Record<string, ParamSpec>): Record<string, unknown> {
  const fields = object(value ?? {}, at, fail);
  onlyKeys(fields, Object.keys(specs), at, note);
  for (const [key, field] of Object.entries(fields)) {
    if (!(key in specs)) continue;
    keep(() => {
      for (const reference of references(field)) if (!(reference in params)) fail(`${at}.${key}`, `refers to \${${reference}}, which is not declared under params`);
      if (!isWholeReference(field)) check(field, specs[key]!.type, `${at}.${key}`, fail);
    });
  }
  return fields;
}

function check<T extends FieldType>(value: unknown, type: T, at: string, fail: Fail): T extends 'boolean' ? boolean : T extends 'integer' | 'year' ? number : T extends 'string-list' ? string[] : T extends 'text' ? string | number : string;
function check(value: unknown, type: FieldType, at: string, fail: Fail): unknown {
  const ok =
    type === 'string' ? typeof value === 'string' && value !== '' :
    type === 'boolean' ? typeof value === 'boolean' :
    type === 'integer' ? Number.isInteger(value) && (value as number) >= 0 :
    type === 'year' ? Number.isInteger(value) && (value as number) >= 1000 && (value as number) <= 9999 :
    type === 'text' ? (typeof value === 'string' && value !== '') || typeof value === 'number' :
    Array.isArray(value) && value.every((item) => typeof item === 'string');
  const expected = { string: 'a non-empty string', boolean: 'true or false', integer: 'a whole number of 0 or more', year: 'a four-digit year', 'string-list': 'a list of strings', text: 'a string or a number' }[type];
  return ok ? value : fail(at, `expected ${expected}, got ${describe(value)}`);
}

function hasParamType(value: unknown, type: ParamType): boolean {
  if (type === 'list') return Array.isArray(value) && value.every((item) => typeof item === 'string');
  if (type === 'integer') return Number.isInteger(value);
  return typeof value === type;
}

const REFERENCE = /\$\{([A-Za-z_][\w-]*)\}/g;

function references(value: unknown): string[] {
  const strings = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return strings.flatMap((s) => [...s.matchAll(REFERENCE)].map((m) => m[1]!));
}

function isWholeReference(value: unknown): boolean {
  return typeof value === 'string' && /^\$\{[A-Za-z_][\w-]*\}$/.test(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

/** The parameters' values: defaults, overridden by `--param name=value` (parsed by the declared type). */
export function resolveParams(pipeline: PipelineConfig, overrides: readonly string[], file: string): Record<string, ParamValue> {
  const values: Record<string, ParamValue> = Object.create(null) as Record<string, ParamValue>;
  for (const [name, spec] of Object.entries(pipeline.params)) if (spec.default !== undefined) values[name] = spec.default;
  for (const override of overrides) {
    const match = /^([^=]+)=(.*)$/s.exec(override);
    if (!match) throw new ConfigError(`--param ${override}: expected name=value`, { hint: 'e.g. --param city=3477,5959' });
    const [, name, raw] = match as unknown as [string, string, string];
    if (RESERVED_PARAM_NAMES.has(name)) throw new ConfigError(`--param ${name}: ${name} cannot name a parameter`, { hint: `declared: ${Object.keys(pipeline.params).join(', ') || 'none'} (in ${file})` });
    // Own keys only: `--param __proto__=x` or `constructor=1` names no declared parameter (was taken for one).
    const spec = Object.hasOwn(pipeline.params, name) ? pipeline.params[name] : undefined;
    if (!spec) throw new ConfigError(`--param ${name}: pipeline ${pipeline.name} declares no such parameter`, { hint: `declared: ${Object.keys(pipeline.params).join(', ') || 'none'} (in ${file})` });
    values[name] = parseParam(name, raw, spec.type);
  }
  const missing = Object.keys(pipeline.params).find((name) => !(name in values));
  if (missing) throw new ConfigError(`pipeline ${pipeline.name}: parameter ${missing} has no default and no value`, { hint: `pass --param ${missing}=…` });
  return values;
}

function parseParam(name: string, raw: string, type: ParamType): ParamValue {
  if (type === 'string') return raw;
  if (type === 'list') return raw.split(',').map((item) => item.trim()).filter(Boolean);
  if (type === 'boolean') {
    if (raw === 'true' || raw === 'false') return raw === 'true';
  } else if (/^-?\d+$/.test(raw)) {
    return Number(raw);
  }
  throw new ConfigError(`--param ${name}=${raw}: expected ${type === 'boolean' ? 'true or false' : 'a whole number'}`, { hint: `${name} is declared as ${type}` });
}

/** Replaces `${param}` in the fields: a whole-string reference keeps the value's type, others are interpolated. */
export function substitute(fields: Record<string, unknown>, values: Record<string, ParamValue>, at: string, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const one = (text: string): unknown => (isWholeReference(text) ? values[text.slice(2, -1)] : text.replace(REFERENCE, (_, name: string) => String(values[name])));
    out[key] = typeof field === 'string' ? one(field) : Array.isArray(field) ? field.flatMap((item) => (typeof item === 'string' ? one(item) : item)) : field;
  }
  const spec = { ...OPTION_FIELDS, ...DESTINATION_FIELDS };
  for (const [key, value] of Object.entries(out)) {
    check(value, spec[key]!.type, `${at}.${key}`, (where, problem) => {
      throw new ConfigError(`${file}: ${where}: ${problem} (after parameters were filled in)`, { hint: 'check the parameter values and types' });
    });
  }
  return out;
}
