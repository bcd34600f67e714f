import type { Command } from 'commander';
import type { CommandContext } from './context.js';

export type CommandFactory = (context: () => Promise<CommandContext>) => Command;

/** Generated source subcommands name their own help and the source a foreign flag belongs to; the CLI leaves them be. */
export const commandsWithOwnUsageErrors = new WeakSet<Command>();

/**
 * One line per subcommand, in the order `etl --help` lists them. `term` and `summary` are what the top-level help
 * shows, kept here so that `etl --help` (and a typo's "did you mean") loads no command module: each command's
 * module, and what it imports, loads only when that command runs. test/commands/index.test.ts checks them against
 * the commands themselves.
 */
export const commandEntries: ReadonlyArray<{ name: string; term: string; summary: string; load: () => Promise<CommandFactory> }> = [
  {
    name: 'extract',
    term: 'extract <source> [dataset]',
    summary: 'download a dataset of a source into the raw layer (<data-dir>/raw/<source>/<dataset>/)',
    load: async () => (await import('./extract.js')).extractCommand,
  },
  {
    name: 'transform',
    term: 'transform [source] [dataset]',
    summary: 'turn what extract stored into one tidy parquet file (or a partitioned folder)',
    load: async () => (await import('./transform.js')).transformCommand,
  },
  {
    name: 'load',
    term: 'load [options] [paths...]',
    summary: 'upload files or directories to Google Cloud Storage, S3 or a local directory, or load parquet into a Postgres table; verified and idempotent',
    load: async () => (await import('./load.js')).loadCommand,
  },
  {
    name: 'run',
    term: 'run [options] [source] [dataset]',
    summary: 'extract, transform and (with --bucket) load in one go, skipping steps whose inputs are unchanged: the command for a crontab line',
    load: async () => (await import('./run.js')).runCommand,
  },
  {
    name: 'plan',
    term: 'plan [options] [source] [dataset]',
    summary: 'say what `etl run` would fetch, transform and upload, and why, without doing any of it',
    load: async () => (await import('./plan.js')).planCommand,
  },
  {
    name: 'runs',
    term: 'runs [options]',
    summary: 'recent runs, newest first, from the run manifests in <data-dir>/runs/',
    load: async () => (await import('./runs.js')).runsCommand,
  },
  {
    name: 'cron',
    term: 'cron [options] [source] [dataset]',
    summary: 'print a crontab line that runs this pipeline with `etl run` (install it with crontab -e)',
    load: async () => (await import('./cron.js')).cronCommand,
  },
  {
    name: 'schema',
    term: 'schema',
    summary: 'print the JSON Schema of pipeline config files (etl run --config), for editors to complete and check them',
    load: async () => (await import('./schema.js')).schemaCommand,
  },
  {
    name: 'datasets',
    term: 'datasets [options]',
    summary: 'list every source and dataset: output columns, the environment variables each reads, and for workbooks page and layouts',
    load: async () => (await import('./datasets.js')).datasetsCommand,
  },
  {
    name: 'inspect',
    term: 'inspect [options] <file>',
    summary: 'show what is in a workbook (sheets, and the table each dataset finds), a parquet file (schema, row count, first rows) or a Delta table (version, schema, live files, history)',
    load: async () => (await import('./inspect.js')).inspectCommand,
  },
  {
    name: 'vacuum',
    term: 'vacuum [options] <table>',
    summary: 'delete the data files of a Delta table that no version within the retention reads, and files of commits that never landed',
    load: async () => (await import('./vacuum.js')).vacuumCommand,
  },
  {
    name: 'serve',
    term: 'serve [options]',
    summary: 'serve the processed layer read-only over HTTP: a JSON/CSV/NDJSON/parquet API and a page to browse it',
    load: async () => (await import('./serve.js')).serveCommand,
  },
];

/**
 * The command commander will run for these arguments (after `node etl`), or undefined for `etl`, `etl --help`,
 * `etl --version`. Global options come first and only --log-file takes a value; `etl help <command>` shows that
 * command's help, so it needs that command.
 */
export function requestedCommandName(args: readonly string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--log-file') index++;
    else if (!arg.startsWith('-')) return arg === 'help' ? requestedCommandName(args.slice(index + 1)) : arg;
  }
  return undefined;
}
