import { Command, CommanderError } from 'commander';
import { EXIT_INTERNAL, EXIT_OK, ConfigError, isEtlError, errorMessage } from './core/errors.js';
import { removeLiveTempFiles } from './core/atomic-file.js';
import { redact } from './core/redact.js';
import { applyDotEnv } from './core/settings.js';
import { createCommandContext, type CommandContext, type GlobalOptions } from './commands/context.js';
import { datasetsCommand } from './commands/datasets.js';
import { extractCommand } from './commands/extract.js';
import { inspectCommand } from './commands/inspect.js';
import { loadCommand } from './commands/load.js';
import { runCommand } from './commands/run.js';
import { transformCommand } from './commands/transform.js';
import { VERSION } from './version.js';

/** One line per subcommand; each factory builds a commander Command whose action throws on failure. */
const commandFactories: Array<(context: () => Promise<CommandContext>) => Command> = [
  extractCommand,
  transformCommand,
  loadCommand,
  runCommand,
  datasetsCommand,
  inspectCommand,
];

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  internal error (a bug in etl: run with --debug and report it)
  2  usage or configuration error
  3  source or network error (extract)
  4  data did not look as declared (transform)
  5  load error (upload or verification)`;

/** The only place errors become exit codes and a single line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const onSignal = (signal: NodeJS.Signals): void => {
    removeLiveTempFiles();
    process.stderr.write(`etl: interrupted by ${signal}; finished files are kept, partial ones removed\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    applyDotEnv();
    await program.parseAsync(argv as string[]);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, program.opts<GlobalOptions>());
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function buildProgram(): Command {
  const program = new Command('etl')
    .description('Download public and commercial data, turn it into tidy Parquet, ship it to a bucket.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show debug lines and stack traces', false)
    .option('--json', 'machine-readable output: JSON log lines on stderr, a JSON result on stdout', false)
    .option('-q, --quiet', 'only warnings and errors on stderr', false)
    .addHelpText('after', `
Examples:
  $ etl extract ons                                  download every edition of ONS monthly deaths to ./data/raw
  $ etl transform ons --out deaths.parquet           workbooks -> one tidy parquet file
  $ etl load deaths.parquet --bucket gs://my-bucket/ons/   upload, verified; a re-run uploads nothing
  $ etl run ons --bucket s3://my-bucket/ons/         extract, transform and load, for a crontab line
  $ etl inspect Monthly2019Mortality.xls             what the engine sees in a workbook
${EXIT_CODES_HELP}`);
  program.exitOverride();
  program.configureOutput({ outputError: () => {} });

  const context = (): Promise<CommandContext> => createCommandContext(program.opts<GlobalOptions>());
  for (const command of commandFactories.map((create) => create(context))) {
    command.exitOverride();
    command.configureOutput({ outputError: () => {} });
    program.addCommand(command);
  }
  return program;
}

function reportError(error: unknown, global: Partial<GlobalOptions>): number {
  if (error instanceof CommanderError) {
    // --help and --version arrive here too, with exit code 0.
    if (error.exitCode === 0) return EXIT_OK;
    return printError(new ConfigError(error.message.replace(/^error: /, ''), { hint: 'run etl --help for usage' }), global);
  }
  return printError(error, global);
}

function printError(error: unknown, global: Partial<GlobalOptions>): number {
  const known = isEtlError(error);
  const exitCode = known ? error.exitCode : EXIT_INTERNAL;
  const kind = known ? error.name.replace(/Error$/, '').toLowerCase() + ' error' : 'internal error';
  const hint = known ? error.hint : 'this is a bug in etl: run again with --debug and report the output';
  if (global.json) {
    const record = { time: new Date().toISOString(), level: 'error', kind, exit_code: exitCode, msg: errorMessage(error), hint, stack: global.debug && error instanceof Error ? error.stack : undefined };
    process.stderr.write(redact(JSON.stringify(record)) + '\n');
  } else {
    process.stderr.write(redact(`etl: ${kind}: ${errorMessage(error)}${hint ? ` (${hint})` : ''}`) + '\n');
    if (global.debug || !known) {
      const stack = error instanceof Error ? (error.stack ?? '') : '';
      const cause = error instanceof Error && error.cause instanceof Error ? `\ncaused by: ${error.cause.stack}` : '';
      if (stack) process.stderr.write(redact(stack + cause) + '\n');
    }
  }
  return exitCode;
}

