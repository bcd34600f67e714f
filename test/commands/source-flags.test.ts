import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/commands/context.js';
import { extractCommand } from '../../src/commands/extract.js';
import { runCommand } from '../../src/commands/run.js';
import { checkDataset, sourceFlagOwners } from '../../src/commands/source-command.js';
import { transformCommand } from '../../src/commands/transform.js';
import { ConfigError } from '../../src/core/errors.js';
import { findSource } from '../../src/sources/index.js';
import { runInProcess } from '../helpers/command-in-process.js';

/**
 * The per-source subcommands of `etl extract` and `etl transform` (src/commands/source-command.ts): which flags
 * each stage of each source takes, how list and environment flags are read, and the usage errors they give.
 * Parsed in-process with the subcommand's action replaced, so nothing is fetched or read.
 */
const noContext = (): Promise<CommandContext> => Promise.reject(new Error('these tests run no command'));
const savedEnv = { ONS_URL: process.env.ONS_URL, RANDOM_PERSON_BASE_URL: process.env.RANDOM_PERSON_BASE_URL };

afterEach(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

function subcommand(stage: Command, source: string): Command {
  return stage.commands.find((command) => command.name() === source)!;
}

/** The options a source subcommand's action would get for these arguments (`etl <stage> <source> …`). */
async function parsed(create: (context: () => Promise<CommandContext>) => Command, args: string[]): Promise<{ dataset: unknown; options: Record<string, unknown> }> {
  const stage = create(noContext);
  let result: { dataset: unknown; options: Record<string, unknown> } | undefined;
  subcommand(stage, args[0]!).action((dataset: unknown, options: Record<string, unknown>) => {
    result = { dataset, options };
  });
  await stage.parseAsync(args, { from: 'user' });
  return result!;
}

const longFlags = (command: Command): string[] => command.options.map((option) => option.long!);

describe('each stage of each source takes its own flags', () => {
  it('extract: the source\'s extract flags, --data-dir and the fetch flags; --base-url only for an API source', () => {
    const extract = extractCommand(noContext);
    const ons = longFlags(subcommand(extract, 'ons'));
    expect(ons).toEqual(expect.arrayContaining(['--url', '--from', '--to', '--max-links', '--data-dir', '--concurrency', '--timeout', '--download-timeout', '--retries', '--rate-limit']));
    for (const absent of ['--base-url', '--input', '--drop-unpublished', '--out', '--skip-bad']) expect(ons).not.toContain(absent);
    expect(new Set(ons).size).toBe(ons.length); // --from and --to: declared once though several sources have them
    const person = longFlags(subcommand(extract, 'random-person'));
    expect(person).toEqual(expect.arrayContaining(['--base-url', '--nat', '--data-dir', '--concurrency']));
    expect(person).not.toContain('--url');
  });

  it('transform: the source\'s transform flags, --data-dir and the transform flags; nothing about fetching', () => {
    const transform = transformCommand(noContext);
    const ons = longFlags(subcommand(transform, 'ons'));
    expect(ons).toEqual(expect.arrayContaining(['--input', '--dataset-file', '--from', '--to', '--drop-unpublished', '--data-dir', '--out', '--skip-bad', '--partition-by', '--format', '--merge-key']));
    for (const absent of ['--url', '--max-links', '--base-url', '--concurrency', '--timeout', '--retries', '--rate-limit']) expect(ons).not.toContain(absent);
    expect(new Set(ons).size).toBe(ons.length);
  });

  it('a list flag collects repeated and comma-separated values, trimmed, empty ones dropped', async () => {
    const { options } = await parsed(extractCommand, ['climatempo', '--city', '3477', '--city', ' 5959 , ,1,']);
    expect(options.city).toEqual(['3477', '5959', '1']);
    expect((await parsed(extractCommand, ['random-person', '--nat', 'gb,br'])).options.nat).toEqual(['gb', 'br']);
    // Not a list: the last value given wins, as written.
    expect((await parsed(extractCommand, ['ons', '--url', 'http://a.example/,x', '--url', 'http://b.example/'])).options.url).toBe('http://b.example/');
  });

  it('a flag with an environment variable reads it when not given; the command line wins', async () => {
    process.env.ONS_URL = 'http://mirror.example/ons';
    process.env.RANDOM_PERSON_BASE_URL = 'http://127.0.0.1:9/';
    expect((await parsed(extractCommand, ['ons'])).options.url).toBe('http://mirror.example/ons');
    expect((await parsed(extractCommand, ['ons', '--url', 'http://given.example/'])).options.url).toBe('http://given.example/');
    expect((await parsed(extractCommand, ['random-person'])).options.baseUrl).toBe('http://127.0.0.1:9/');
    // etl run builds the same source flags.
    const run = runCommand(noContext);
    let options: Record<string, unknown> = {};
    run.action((_source: unknown, _dataset: unknown, flags: Record<string, unknown>) => {
      options = flags;
    });
    await run.parseAsync(['ons', '--city', '1,2', '--city', '3'], { from: 'user' });
    expect(options).toMatchObject({ url: 'http://mirror.example/ons', city: ['1', '2', '3'] });
  });

  it('the dataset argument and the defaults of the fetch flags reach the action', async () => {
    const { dataset, options } = await parsed(extractCommand, ['random-person', 'people']);
    expect(dataset).toBe('people');
    expect(options).toMatchObject({ dataDir: 'data', concurrency: 4, timeout: 30, downloadTimeout: 300, retries: 4, rateLimit: 5 });
    expect((await parsed(transformCommand, ['ons'])).options).toMatchObject({ dataDir: 'data', skipBad: false });
  });
});

describe('usage errors of a source subcommand', () => {
  it('a flag missing its value, or an extra argument, names the subcommand whose --help explains it', async () => {
    const missing = await runInProcess(extractCommand, ['climatempo', '--city']);
    expect(missing.error).toBeInstanceOf(ConfigError);
    expect((missing.error as ConfigError).exitCode).toBe(2);
    expect((missing.error as Error).message).toBe("option '--city <ids>' argument missing");
    expect((missing.error as ConfigError).hint).toBe('run etl extract climatempo --help for usage');
    const extra = await runInProcess(transformCommand, ['ons', 'monthly-deaths', 'surplus']);
    expect((extra.error as Error).message).toMatch(/^too many arguments for 'ons'\. Expected 1 argument but got 2\.$/);
    expect((extra.error as ConfigError).hint).toBe('run etl transform ons --help for usage');
  });

  it('a flag of another stage of the same source is named with every command that takes it', async () => {
    const error = (await runInProcess(transformCommand, ['ons', '--url', 'http://x.example/'])).error as ConfigError;
    expect(error.message).toBe("unknown option '--url' (it belongs to etl extract ons, etl extract postgres)");
    const typo = (await runInProcess(transformCommand, ['ons', '--skip-bda'])).error as ConfigError;
    expect(typo.message).toBe("unknown option '--skip-bda' (Did you mean --skip-bad?)");
    expect(typo.message).not.toContain('\n');
  });

  it('sourceFlagOwners: every command whose source declares the flag, by its long or short name', () => {
    expect(sourceFlagOwners('--city')).toEqual(['etl extract climatempo']);
    expect(sourceFlagOwners('--url')).toEqual(['etl extract ons', 'etl extract postgres']);
    expect(sourceFlagOwners('--input')).toEqual(['etl transform ons']);
    expect(sourceFlagOwners('--from')).toEqual(expect.arrayContaining(['etl extract ons', 'etl transform ons']));
    expect(sourceFlagOwners('--no-such-flag')).toEqual([]);
    expect(sourceFlagOwners('<ids>')).toEqual(['etl extract climatempo']); // split on spaces and commas: the value name is a word too
  });

  it('checkDataset: the default when none is named; an unknown or malformed name is refused with the choices', () => {
    const ons = findSource('ons');
    expect(checkDataset(ons, undefined)).toBe(ons.defaultDataset);
    expect(checkDataset(ons, 'weekly-deaths')).toBe('weekly-deaths');
    expect(() => checkDataset(ons, 'yearly')).toThrow('ons has no dataset "yearly"');
    try {
      checkDataset(ons, 'yearly');
    } catch (error) {
      expect((error as ConfigError).hint).toBe(`choose one of: ${ons.datasets.map((d) => d.name).join(', ')}`);
    }
    expect(() => checkDataset(ons, '../etc')).toThrow(ConfigError);
  });
});
