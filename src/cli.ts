import { Command, CommanderError } from 'commander';
import { EXIT_INTERNAL, EXIT_OK, StepTimeoutError, ConfigError, isEtlError, errorMessage } from './core/errors.js';
import { removeLiveTempFiles } from './core/atomic-file.js';
import { escapeControl } from './core/log.js';
import { redact } from './core/redact.js';
import { applyDotEnv } from './core/settings.js';
import { createCommandContext, logFileStream, type CommandContext, type GlobalOptions } from './commands/context.js';
import { datasetsCommand } from './commands/datasets.js';
import { commandsWithOwnUsageErrors } from './commands/source-command.js';
import { extractCommand } from './commands/extract.js';
import { inspectCommand } from './commands/inspect.js';
import { loadCommand } from './commands/load.js';
import { cronCommand } from './commands/cron.js';
import { planCommand } from './commands/plan.js';
import { runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { schemaCommand } from './commands/schema.js';
import { serveCommand } from './commands/serve.js';
import { transformCommand } from './commands/transform.js';
import { vacuumCommand } from './commands/vacuum.js';
import { checkDestinationFlags, splitToFlag, type DestinationFlags } from './load/destination.js';
import { VERSION } from './version.js';

/** One line per subcommand; each factory builds a commander Command whose action throws on failure. */
const commandFactories: Array<(context: () => Promise<CommandContext>) => Command> = [
  extractCommand,
  transformCommand,
  loadCommand,
  runCommand,
  planCommand,
  runsCommand,
  cronCommand,
  schemaCommand,
  datasetsCommand,
  inspectCommand,
  vacuumCommand,
  serveCommand,
];

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  internal error (a bug in etl: run with --debug and report it)
  2  usage or configuration error
  3  source or network error (extract)
  4  data did not look as declared (transform)
  5  load error (upload or verification)
  75 another run of the same pipeline is in progress (etl run): try again later`;

/** The only place errors become exit codes and a single line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  ignoreClosedPipes();
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
    const exitCode = reportError(error, program.opts<GlobalOptions>());
    // The step that ran out of time is still running, and nothing can stop it but the end of the process.
    if (error instanceof StepTimeoutError) {
      removeLiveTempFiles();
      process.exit(exitCode);
    }
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

let closedPipesIgnored = false;

/**
 * A reader that went away (`etl --help | head -3`, a log pipe that died) is not a failure of the job: Node reports it
 * as an EPIPE 'error' event, which unhandled crashes the process with a stack. Drop the output and finish the work.
 */
function ignoreClosedPipes(): void {
  if (closedPipesIgnored) return;
  closedPipesIgnored = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

function buildProgram(): Command {
  const program = new Command('etl')
    .description('Download public and commercial data, turn it into tidy Parquet, ship it to a bucket.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show debug lines and stack traces', false)
    .option('--json', 'machine-readable output: JSON log lines on stderr, a JSON result on stdout', false)
    .option('-q, --quiet', 'only warnings and errors on stderr', false)
    .option('--log-file <file>', 'also append JSON log lines, the result and any error to this file (for cron)')
    .addHelpText('after', `
Examples:
  $ etl extract ons                                  download every edition of ONS monthly deaths to ./data/raw
  $ etl transform ons --out deaths.parquet           workbooks -> one tidy parquet file
  $ etl load deaths.parquet --bucket gs://my-bucket/ons/   upload, verified; a re-run uploads nothing
  $ etl run ons --bucket s3://my-bucket/ons/         extract, transform and load, for a crontab line
  $ etl inspect Monthly2019Mortality.xls             what the engine sees in a workbook
  $ etl serve                                        browse and query the processed layer at http://127.0.0.1:8080
${EXIT_CODES_HELP}`);
  program.exitOverride();
  // With errors silenced, commander writes to writeErr only the help it shows for `etl` with no command: a
  // result, so stdout.
  program.configureOutput({ outputError: () => {}, writeErr: (text) => process.stdout.write(text) });
  program.hook('preAction', (_program, command) => checkSharedFlags(command.opts()));

  const context = (): Promise<CommandContext> => createCommandContext(program.opts<GlobalOptions>());
  for (const command of commandFactories.map((create) => create(context))) {
    nameUsageErrors(command, command.name());
    command.configureOutput({ outputError: () => {} });
    program.addCommand(command);
  }
  return program;
}

/** Remember whose flags were wrong (`runs show` too), so the hint names the help that lists them. */
function nameUsageErrors(command: Command, commandName: string): void {
  if (!commandsWithOwnUsageErrors.has(command)) {
    command.exitOverride((error) => {
      throw Object.assign(error, { commandName });
    });
  }
  for (const subcommand of command.commands) nameUsageErrors(subcommand, `${commandName} ${subcommand.name()}`);
}

/**
 * Flags several commands share, checked before any work starts: a mistyped --bucket must not cost a whole
 * extract and transform first, and an inverted range would select nothing.
 */
function checkSharedFlags(flags: DestinationFlags & { from?: unknown }): void {
  checkDestinationFlags(flags);
  const { rangeEnd } = splitToFlag(flags.to);
  if (flags.from !== undefined && rangeEnd !== undefined && (flags.from as string) > rangeEnd) {
    throw new ConfigError(`--from ${String(flags.from)} is after --to ${rangeEnd}: the range selects nothing`, { hint: 'swap them, or give one of them alone' });
  }
}

function reportError(error: unknown, global: Partial<GlobalOptions>): number {
  if (error instanceof CommanderError) {
    // --help, --version and `etl` alone (help printed) arrive here too: nothing went wrong.
    if (error.exitCode === 0 || error.code === 'commander.help') return EXIT_OK;
    // commander puts "(Did you mean …?)" on a line of its own; an error is one line.
    const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    const commandName = (error as CommanderError & { commandName?: string }).commandName;
    return printError(new ConfigError(message, { hint: `run etl ${commandName ? `${commandName} ` : ''}--help for usage` }), global);
  }
  return printError(error, global);
}

function printError(error: unknown, global: Partial<GlobalOptions>): number {
  const known = isEtlError(error);
  const exitCode = known ? error.exitCode : EXIT_INTERNAL;
  const kind = `${known ? error.kind : 'internal'} error`;
  const hint = known ? error.hint : 'this is a bug in etl: run again with --debug and report the output';
  const record = { time: new Date().toISOString(), level: 'error', kind, exit_code: exitCode, msg: errorMessage(error), hint, stack: global.debug && error instanceof Error ? error.stack : undefined };
  if (global.logFile) {
    try {
      logFileStream(global.logFile, global.json).write(redact(JSON.stringify(record)) + '\n');
    } catch (logError) {
      process.stderr.write(`etl: could not write to --log-file ${global.logFile}: ${errorMessage(logError)}\n`);
    }
  }
  if (global.json) {
    process.stderr.write(redact(JSON.stringify(record)) + '\n');
  } else {
    const message = errorMessage(error);
    process.stderr.write(redact(escapeControl(`etl: ${kind}: ${message}${hint ? ` (${hint})` : ''}`)) + '\n');
    if (global.debug || !known) {
      // The stack repeats the message: escaped there too, the rest of the stack keeps its lines.
      const stack = error instanceof Error ? (error.stack ?? '').replace(message, escapeControl(message)) : '';
      const cause = error instanceof Error && error.cause instanceof Error ? `\ncaused by: ${error.cause.stack}` : '';
      if (stack) process.stderr.write(redact(stack + cause) + '\n');
    }
  }
  return exitCode;
}

