import { appendFileSync } from 'node:fs';
import { createLogger, escapeControl, loadSpinner, teeLogger, type Logger } from '../core/log.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { redact } from '../core/redact.js';

/** Flags every command accepts, set on the root program. */
export interface GlobalOptions {
  debug: boolean;
  json: boolean;
  quiet: boolean;
  /** Also append JSON lines (logs, the result, an error) to this file. */
  logFile?: string;
}

export interface CommandContext {
  log: Logger;
  global: GlobalOptions;
  /** Results go to stdout (one summary line, or one JSON object with --json); logs go to stderr. */
  printResult(text: string, json: Record<string, unknown>): void;
}

export async function createCommandContext(global: GlobalOptions, stdout: NodeJS.WritableStream = process.stdout): Promise<CommandContext> {
  // A terminal with no width (some pseudo-terminals) cannot redraw a spinner line.
  const interactive = Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && !global.json && !process.env.CI;
  if (interactive) await loadSpinner();
  const terminal = createLogger({ json: global.json, debug: global.debug, quiet: global.quiet, interactive });
  const logFile = global.logFile ? logFileStream(global.logFile, global.json) : undefined;
  const log = logFile ? teeLogger(terminal, createLogger({ json: true, debug: global.debug, quiet: global.quiet, stream: logFile, interactive: false })) : terminal;
  return {
    log,
    global,
    printResult(text, json) {
      stdout.write(global.json ? JSON.stringify(json) + '\n' : escapeControl(text, true) + '\n');
      logFile?.write(redact(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: text.split('\n')[0], result: json })) + '\n');
    },
  };
}

/** Log files a write to has failed (a full disk, /dev/full): written to no more in this process, and said once. */
const failedLogFiles = new Set<string>();

/**
 * Appended synchronously, line by line, so lines stay whole and in order even when the process exits on an error.
 * A write that fails later (the disk filled up) does not fail the command, whose result is its own: one warning
 * on stderr names the file and the reason, and later lines go to stderr only.
 */
export function logFileStream(file: string, json = false): NodeJS.WritableStream {
  try {
    appendFileSync(file, '');
  } catch (error) {
    throw new ConfigError(`--log-file ${file}: cannot append to it (${errorMessage(error)})`, { hint: 'create its directory, or make it writable by this user' });
  }
  const write = (text: string): boolean => {
    if (failedLogFiles.has(file)) return true;
    try {
      appendFileSync(file, text);
    } catch (error) {
      failedLogFiles.add(file);
      const message = `--log-file ${file}: cannot write to it (${errorMessage(error)}); its lines from here on are lost, the run carries on`;
      process.stderr.write(redact(json ? JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: message }) : `warn: ${escapeControl(message)}`) + '\n');
    }
    return true;
  };
  return { write } as unknown as NodeJS.WritableStream;
}
