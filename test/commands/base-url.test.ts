import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { extractCommand } from '../../src/commands/extract.js';
import { ConfigError } from '../../src/core/errors.js';
import { runInProcess } from '../helpers/command-in-process.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * Issue 19 follow-up: where a source's API lives (--base-url, <SOURCE>_BASE_URL, a config's base_url; ONS
 * --url, ONS_URL, url) must be an absolute http(s) URL. Anything else is a usage error (exit 2) naming the flag,
 * the variable or the config field, before anything runs: no lock, no data dir, no request.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-base-url-'));
  await writeFile(path.join(work, 'query.json'), JSON.stringify({ ds_id: 'GA', fields: ['Date', 'Sessions'] }));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Case {
  source: string;
  /** The flag, its variable and its config field. */
  flag: string;
  variable: string;
  field: string;
  /** What the source needs besides, so only the URL is wrong. */
  args: string[];
  options: Record<string, string | string[]>;
  env: Record<string, string>;
  /** The line for a bad value given as the flag, `VALUE` in its place. */
  line: string;
}

const apiLine = (flag: string, example: string) => `etl: config error: ${flag} "VALUE" is not an absolute http:// or https:// URL (write it with its scheme, e.g. ${example})`;
const cases: Case[] = [
  { source: 'random-person', flag: '--base-url', variable: 'RANDOM_PERSON_BASE_URL', field: 'base_url', args: ['--seed', 'x', '--count', '3'], options: { seed: 'x' }, env: {}, line: apiLine('--base-url', 'https://randomuser.me') },
  { source: 'climatempo', flag: '--base-url', variable: 'CLIMATEMPO_BASE_URL', field: 'base_url', args: ['--city', '3477'], options: { city: ['3477'] }, env: { CLIMATEMPO_TOKEN: 'ct-token' }, line: apiLine('--base-url', 'http://apiadvisor.climatempo.com.br') },
  {
    source: 'supermetrics',
    flag: '--base-url',
    variable: 'SUPERMETRICS_BASE_URL',
    field: 'base_url',
    args: ['--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-02'],
    options: { query: 'query.json', from: '2024-01-01', to: '2024-01-02' },
    env: { SUPERMETRICS_API_KEY: 'sm-key' },
    line: apiLine('--base-url', 'https://api.supermetrics.com'),
  },
  {
    source: 'ons',
    flag: '--url',
    variable: 'ONS_URL',
    field: 'url',
    args: [],
    options: {},
    env: {},
    line: `etl: config error: option '--url <url>' argument "VALUE" is invalid: not an http:// or https:// URL: write it with its scheme, e.g. http://127.0.0.1:8080/page (run etl extract ons --help for usage)`,
  },
];
const badValues = ['notaurl', '/api/relative', 'ftp://127.0.0.1/api', 'api.example.com:8080'];

let runs = 0;
/**
 * Runs the CLI in its own data dir; the data dir must not exist afterwards (nothing ran). The first bad value of
 * each source is the built CLI; the other runs go through its `main` in this process (the same line and exit code,
 * with the variables and working directory given, without a process start: about a CPU second each).
 */
async function refused(args: string[], env: Record<string, string>, run = runCliInProcess): Promise<string[]> {
  const dataDir = path.join(work, `data-${++runs}`);
  const result = await run([...args, '--data-dir', dataDir], { cwd: work, env });
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  return result.stderr.split('\n').filter((line) => line !== '');
}

/**
 * `etl extract <args>` through the command layer in this process, as `refused` checks it: the line the CLI would
 * print (`etl: config error: ` and the hint in brackets, as cli.ts writes a ConfigError). A spawned CLI costs about a
 * CPU second; the first bad value of each source goes through the built CLI, the others here.
 */
async function refusedInProcess(args: string[], env: Record<string, string>): Promise<string[]> {
  const dataDir = path.join(work, `data-${++runs}`);
  // The CLI runs in `work`, where the query file is.
  const inWork = args.map((arg) => (arg === 'query.json' ? path.join(work, arg) : arg));
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const result = await runInProcess(extractCommand, [...inWork, '--data-dir', dataDir]).finally(() => vi.unstubAllEnvs());
  expect(result.error).toBeInstanceOf(ConfigError);
  expect(result.stdout).toBe('');
  await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  const { message, hint } = result.error as ConfigError;
  return [`etl: config error: ${message}${hint ? ` (${hint})` : ''}`];
}

describe.each(cases)('$source: a base URL that is not an absolute http(s) URL is a usage error, before anything runs', (c) => {
  it.each(badValues)(`etl extract ${c.source} ${c.flag} %j`, async (value) => {
    const expected = [c.line.replace('VALUE', value)];
    if (value === badValues[0]) expect(await refused(['extract', c.source, ...c.args, c.flag, value], c.env, runCli)).toEqual(expected);
    else expect(await refusedInProcess([c.source, ...c.args, c.flag, value], c.env)).toEqual(expected);
  });

  it(`etl run and etl plan ${c.flag} notaurl`, async () => {
    for (const command of ['run', 'plan']) {
      expect(await refused([command, c.source, ...c.args, c.flag, 'notaurl'], c.env)).toEqual([c.line.replace('VALUE', 'notaurl')]);
    }
  });

  it(`${c.variable}=notaurl, named as the variable where etl reads it itself`, async () => {
    const env = { ...c.env, [c.variable]: 'notaurl' };
    const named = c.source === 'ons' ? c.line : c.line.replace(c.flag, c.variable);
    expect(await refused(['extract', c.source, ...c.args], env)).toEqual([named.replace('VALUE', 'notaurl')]);
    expect(await refused(['plan', c.source, ...c.args], env)).toEqual([(c.source === 'ons' ? c.line : named).replace('VALUE', 'notaurl')]);
  });

  it(`a config file's ${c.field}: named by file, pipeline and field, in run and plan`, async () => {
    const file = path.join(work, `${c.source}.json`);
    await writeFile(file, JSON.stringify({ pipelines: { p: { source: c.source, options: { ...c.options, [c.field]: 'notaurl' } } } }));
    for (const command of ['run', 'plan']) {
      expect(await refused([command, '--config', file], c.env)).toEqual([c.line.replace('etl: config error: ', `etl: config error: ${file}: pipelines.p.options.${c.field}: `).replace('VALUE', 'notaurl')]);
    }
  });
});
