import { Command, CommanderError, Help } from 'commander';
import { EXIT_INTERNAL, EXIT_OK, StepTimeoutError, ConfigError, isEtlError, errorMessage } from './core/errors.js';
import { removeLiveTempFiles } from './core/atomic-file.js';
import { escapeControl } from './core/log.js';
import { redact } from './core/redact.js';
import { applyDotEnv } from './core/settings.js';
import { createCommandContext, logFileStream, type CommandContext, type GlobalOptions } from './commands/context.js';
import { commandEntries, commandsWithOwnUsageErrors, requestedCommandName, type CommandFactory } from './commands/index.js';
import type { DestinationFlags } from './load/destination.js';
import { VERSION } from './version.js';

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
  const program = await buildProgram(argv.slice(2));
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

/**
 * Only the command these arguments run is built from its module; the others are placeholders that carry what the
 * top-level help lists, so `etl --help` and each command load no more than they need.
 */
async function buildProgram(args: readonly string[]): Promise<Command> {
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
  program.hook('preAction', async (_program, command) => checkSharedFlags(command.opts()));

  const context = (): Promise<CommandContext> => createCommandContext(program.opts<GlobalOptions>());
  const requested = requestedCommandName(args);
  const listedTerms = new Map<Command, string>();
  for (const entry of commandEntries) {
    const command = entry.name === requested ? loadedCommand(await entry.load(), context) : placeholderCommand(entry.name, entry.summary);
    command.configureOutput({ outputError: () => {} });
    listedTerms.set(command, entry.term);
    program.addCommand(command);
  }
  const defaultHelp = new Help();
  program.configureHelp({ subcommandTerm: (command) => listedTerms.get(command) ?? defaultHelp.subcommandTerm(command) });
  return program;
}

function loadedCommand(create: CommandFactory, context: () => Promise<CommandContext>): Command {
  const command = create(context);
  nameUsageErrors(command, command.name(), commandsWithOwnUsageErrors);
  return command;
}

/** Stands in for a command these arguments do not run: its name and summary for the help and for "did you mean". */
function placeholderCommand(name: string, summary: string): Command {
  return new Command(name)
    .description(summary)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error(`etl ${name} was dispatched to a placeholder: requestedCommandName disagrees with commander`);
    });
}

/** Remember whose flags were wrong (`runs show` too), so the hint names the help that lists them. */
function nameUsageErrors(command: Command, commandName: string, commandsWithOwnUsageErrors: WeakSet<Command>): void {
  if (!commandsWithOwnUsageErrors.has(command)) {
    command.exitOverride((error) => {
      throw Object.assign(error, { commandName });
    });
  }
  for (const subcommand of command.commands) nameUsageErrors(subcommand, `${commandName} ${subcommand.name()}`, commandsWithOwnUsageErrors);
}

/**
 * Flags several commands share, checked before any work starts: a mistyped --bucket must not cost a whole
 * extract and transform first, and an inverted range would select nothing.
 */
async function checkSharedFlags(flags: DestinationFlags & { from?: unknown }): Promise<void> {
  const { checkDestinationFlags, splitToFlag } = await import('./load/destination.js');
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

