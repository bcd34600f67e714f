import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/commands/context.js';
import { cronCommand } from '../../src/commands/cron.js';
import { datasetsCommand } from '../../src/commands/datasets.js';
import { extractCommand } from '../../src/commands/extract.js';
import { inspectCommand } from '../../src/commands/inspect.js';
import { loadCommand } from '../../src/commands/load.js';
import { planCommand } from '../../src/commands/plan.js';
import { runCommand } from '../../src/commands/run.js';
import { runsCommand } from '../../src/commands/runs.js';
import { schemaCommand } from '../../src/commands/schema.js';
import { serveCommand } from '../../src/commands/serve.js';
import { transformCommand } from '../../src/commands/transform.js';
import { vacuumCommand } from '../../src/commands/vacuum.js';
import { DEFAULT_KEY_TEMPLATE } from '../../src/load/object-key.js';

/**
 * What `etl <command> --help` teaches, and the values a flag left out takes, read from the commands the CLI
 * builds (in-process, so a mutation of src/commands is seen). Key phrases, not whole texts: wording may change,
 * an empty or missing description may not.
 */
const noContext = (): Promise<CommandContext> => Promise.reject(new Error('these tests run no command'));

const FACTORIES = {
  extract: extractCommand,
  transform: transformCommand,
  load: loadCommand,
  run: runCommand,
  plan: planCommand,
  cron: cronCommand,
  runs: runsCommand,
  schema: schemaCommand,
  datasets: datasetsCommand,
  inspect: inspectCommand,
  serve: serveCommand,
  vacuum: vacuumCommand,
} as const;

type Name = keyof typeof FACTORIES;

/** `--help` as commander prints it: usage, options, then the texts added after (examples, notes). */
function helpOf(command: Command): string {
  let text = '';
  command.configureHelp({ helpWidth: 1000 }).configureOutput({ writeOut: (chunk) => (text += chunk), outputError: () => {} });
  command.outputHelp();
  return text;
}

function withSubcommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(withSubcommands)];
}

/** The command with its action replaced, parsed from argv: the options as the action would get them. */
async function parsedOptions(name: Name, args: string[]): Promise<Record<string, unknown>> {
  const command = FACTORIES[name](noContext);
  let options: Record<string, unknown> | undefined;
  command.exitOverride().configureOutput({ outputError: () => {} });
  command.action((...received: unknown[]) => {
    options = (received.at(-1) as Command).opts();
  });
  await command.parseAsync(args, { from: 'user' });
  return options!;
}

describe('every command explains itself', () => {
  it('each command, option and argument has a description of a few words', () => {
    for (const [name, create] of Object.entries(FACTORIES)) {
      for (const command of withSubcommands(create(noContext))) {
        const where = `etl ${name} ${command.name() === name ? '' : command.name()}`;
        expect(command.description(), where).toMatch(/\w+ \w+ \w+/);
        for (const option of command.options) expect(option.description, `${where} ${option.flags}`).toMatch(/\w+ \w+/);
        for (const argument of command.registeredArguments) {
          // The generic [dataset] after a stage's source is described by each source's own subcommand.
          if (command.commands.length > 0 && argument.name() === 'dataset') continue;
          expect(argument.description, `${where} <${argument.name()}>`).toMatch(/\w+/);
        }
      }
    }
  });

  it('the texts after the options: examples, and what a user must know before running it', () => {
    const phrases: Record<Name, string[]> = {
      extract: ['Each source has its own options: etl extract <source> --help.', '$ etl extract ons', 'manifest.json with its size and sha256'],
      transform: ['etl transform <source> --help', '$ etl transform --out deaths.parquet', 'exits 75 at once', 'on a\ndata error (exit 4) the previous file is left as it was'],
      load: ['Usage: load [options] [paths...]', 'files or directories to upload (default: what the last `etl transform` wrote)', 'files uploaded at once'],
      run: ['$ etl run ons ', 'reported as cached; --no-cache runs everything', 'Exit codes (the step that failed):', '75  another run of this pipeline holds its lock', '<data-dir>/runs/<run-id>.json'],
      plan: ['$ etl plan ons --bucket gs://lake/ons/', 'Takes the same flags as `etl run`', 'nothing is fetched, written or uploaded'],
      cron: ['$ etl cron ons --schedule "15 6 * * *"', 'absolute paths to node', 'Exit codes (the step that failed):', 'a line is printed only when it can run'],
      runs: ['$ etl runs show <run-id>'],
      schema: ['$ etl schema > etl.config.schema.json', 'yaml-language-server: $schema='],
      datasets: ['$ etl datasets --dataset-file my.json', '$ etl --json datasets'],
      inspect: ['$ etl inspect publishedweek522021.xlsx', '--version-as-of 3', 'Exits 4 when no dataset finds a table.'],
      serve: ['Routes:', 'GET /healthz', 'liveness, no token needed', 'values reach DuckDB only as bound parameters', 'a query past\n--query-timeout is stopped (503)', '--token-env ETL_SERVE_TOKEN', 'is a 400 naming it'],
      vacuum: ['$ etl vacuum ./lake/monthly-deaths/ --retain 7d', '--dry-run', 'time travel', 'The log is never\ntouched', 'may delete the files of a commit still being written'],
    };
    for (const [name, expected] of Object.entries(phrases) as [Name, string[]][]) {
      const help = helpOf(FACTORIES[name](noContext));
      for (const phrase of expected) expect(help, `etl ${name} --help`).toContain(phrase);
    }
  });

  it('a source subcommand lists its own flags and says where its options are documented', () => {
    const extract = extractCommand(noContext);
    const climatempo = extract.commands.find((command) => command.name() === 'climatempo')!;
    const help = helpOf(climatempo);
    expect(help).toContain('--city');
    expect(help).toContain('--base-url <url>');
    expect(help).toContain('where the API lives (default: ');
    expect(help).toContain('CLIMATEMPO_BASE_URL');
    const usage = helpOf(extract);
    expect(usage).toContain('Usage: extract <source> [dataset] [options]');
    expect(usage).toMatch(/one of: ons, [a-z-]+(, [a-z-]+)*/);
    expect(helpOf(transformCommand(noContext))).toContain('Usage: transform [source] [dataset] [options]');
    expect(helpOf(transformCommand(noContext))).toContain('(default: the one the data dir holds)');
  });

  it('the pipeline commands name what their positional arguments are', () => {
    for (const name of ['run', 'plan', 'cron'] as const) {
      const help = helpOf(FACTORIES[name](noContext));
      expect(help).toContain('with --config, the pipeline name (default: the only one in the file)');
      expect(help).toContain('e.g. monthly-deaths (the default for ons)');
      expect(help).toContain('0-based; default from CLOUD_RUN_TASK_INDEX/COUNT');
      expect(help).toContain('POST a JSON summary here when the run fails');
    }
  });
});

describe('a flag left out takes its documented default', () => {
  it('etl run: fetch, transform, load and pipeline flags', async () => {
    const options = await parsedOptions('run', ['ons']);
    expect(options).toMatchObject({
      dataDir: 'data',
      param: [],
      concurrency: 4,
      timeout: 30,
      downloadTimeout: 300,
      retries: 4,
      rateLimit: 5,
      skipBad: false,
      key: DEFAULT_KEY_TEMPLATE,
      dryRun: false,
      force: false,
      cache: true,
      stepRetries: 0,
      alertOnSuccess: false,
    });
    for (const unset of ['stepTimeout', 'shard', 'config', 'bucket', 'to', 'out', 'partitionBy', 'format', 'alertUrl']) expect(options[unset], unset).toBeUndefined();
  });

  it('etl run: the boolean flags set what they name, and the lists collect', async () => {
    const options = await parsedOptions('run', ['ons', '--skip-bad', '--dry-run', '--force', '--no-cache', '--alert-on-success', '--param', 'a=1', '--param', 'b=2', '--to', 's3://lake/', '--to', '2020', '--step-retries', '2', '--shard', '1/3']);
    expect(options).toMatchObject({ skipBad: true, dryRun: true, force: true, cache: false, alertOnSuccess: true, param: ['a=1', 'b=2'], to: ['s3://lake/', '2020'], stepRetries: 2, shard: { index: 1, count: 3 } });
  });

  it('etl load, transform, inspect, runs: their own defaults', async () => {
    expect(await parsedOptions('load', [])).toMatchObject({ dataDir: 'data', concurrency: 4, key: DEFAULT_KEY_TEMPLATE, dryRun: false, force: false });
    expect(await parsedOptions('load', ['--dry-run', '--force', '--concurrency', '2'])).toMatchObject({ dryRun: true, force: true, concurrency: 2 });
    expect(await parsedOptions('inspect', ['x.parquet'])).toMatchObject({ rows: 10 });
    expect(await parsedOptions('runs', [])).toMatchObject({ dataDir: 'data', limit: 20 });
    expect(await parsedOptions('cron', ['ons'])).toMatchObject({ schedule: '15 6 * * *' });
  });

  it('etl serve: loopback, port 8080, 10 s queries, 4 at once, pages of at most 10000 rows, 500 values per list', async () => {
    expect(await parsedOptions('serve', [])).toEqual({ dataDir: 'data', port: 8080, host: '127.0.0.1', auth: true, queryTimeout: 10, maxConcurrent: 4, maxRows: 10_000, maxIn: 500 });
    const given = await parsedOptions('serve', ['--port', '0', '--host', '0.0.0.0', '--no-auth', '--token-env', 'T', '--cors', 'https://a.example', '--query-timeout', '0.5', '--max-concurrent', '2', '--max-rows', '7', '--max-in', '3', '--data-dir', 'd']);
    expect(given).toEqual({ dataDir: 'd', port: 0, host: '0.0.0.0', auth: false, tokenEnv: 'T', cors: 'https://a.example', queryTimeout: 0.5, maxConcurrent: 2, maxRows: 7, maxIn: 3 });
  });

  it('etl vacuum: a week kept, deleting for real unless --dry-run', async () => {
    expect(await parsedOptions('vacuum', ['t'])).toEqual({ retain: '7d', dryRun: false });
    expect(await parsedOptions('vacuum', ['t', '--retain', '12h', '--dry-run', '--endpoint', 'http://127.0.0.1:1', '--region', 'eu-west-2'])).toEqual({ retain: '12h', dryRun: true, endpoint: 'http://127.0.0.1:1', region: 'eu-west-2' });
  });

  it('--data-dir falls back to ETL_DATA_DIR, --alert-url to ETL_ALERT_URL', async () => {
    const saved = { ETL_DATA_DIR: process.env.ETL_DATA_DIR, ETL_ALERT_URL: process.env.ETL_ALERT_URL };
    process.env.ETL_DATA_DIR = '/srv/etl-data';
    process.env.ETL_ALERT_URL = 'http://127.0.0.1:9/alert';
    try {
      expect(await parsedOptions('run', ['ons'])).toMatchObject({ dataDir: '/srv/etl-data', alertUrl: 'http://127.0.0.1:9/alert' });
      expect(await parsedOptions('serve', [])).toMatchObject({ dataDir: '/srv/etl-data' });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
