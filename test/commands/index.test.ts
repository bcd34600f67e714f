import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandEntries, requestedCommandName } from '../../src/commands/index.js';
import { main } from '../../src/cli.js';

/**
 * `etl --help` lists every command from the table in src/commands/index.ts without loading their modules (issue 22,
 * start-up), and only the command a run asks for is built. The table must say what the commands themselves say,
 * and the argument scan must pick the command commander runs.
 */
describe('the command table', () => {
  const help = new Help();
  const unusedContext = (): never => {
    throw new Error('no command runs here');
  };

  it.each(commandEntries.map((entry) => [entry.name, entry] as const))('lists %s as the command itself does', async (name, entry) => {
    const command = (await entry.load())(unusedContext);
    expect(command.name()).toBe(name);
    expect(help.subcommandTerm(command)).toBe(entry.term);
    expect(help.subcommandDescription(command)).toBe(entry.summary);
    expect(command.aliases()).toEqual([]);
  });

  it('has one entry per command, each name once', () => {
    const names = commandEntries.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(['extract', 'transform', 'load', 'run', 'plan', 'runs', 'cron', 'schema', 'datasets', 'inspect', 'vacuum', 'serve']);
  });
});

describe('requestedCommandName', () => {
  it.each([
    [[], undefined],
    [['--help'], undefined],
    [['-V'], undefined],
    [['run', 'ons'], 'run'],
    [['--json', '-q', 'extract', 'ons', '--data-dir', 'x'], 'extract'],
    [['--log-file', 'runs', 'load', 'a.parquet'], 'load'],
    [['--log-file=cron.log', 'plan'], 'plan'],
    [['help', 'serve'], 'serve'],
    [['--debug', 'help', '--json', 'inspect'], 'inspect'],
    [['help'], undefined],
    [['exrtact'], 'exrtact'],
  ] as const)('%j → %s', (args, expected) => {
    expect(requestedCommandName(args)).toBe(expected);
  });
});

describe('the CLI with one command built', () => {
  it('runs the command named after the value of --log-file, not the value', async () => {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    const work = await mkdtemp(path.join(tmpdir(), 'etl-command-table-'));
    try {
      expect(await main(['node', 'etl', '--log-file', path.join(work, 'etl.log'), 'schema'])).toBe(0);
    } finally {
      process.stdout.write = write;
      await rm(work, { recursive: true, force: true });
    }
    expect(JSON.parse(written.join('')).$schema).toMatch(/json-schema/);
  });
});
