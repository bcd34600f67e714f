import { createLogger, escapeControl, loadSpinner, type Logger } from '../core/log.js';

/** Flags every command accepts, set on the root program. */
export interface GlobalOptions {
  debug: boolean;
  json: boolean;
  quiet: boolean;
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
  const log = createLogger({ json: global.json, debug: global.debug, quiet: global.quiet, interactive });
  return {
    log,
    global,
    printResult(text, json) {
      stdout.write(global.json ? JSON.stringify(json) + '\n' : escapeControl(text, true) + '\n');
    },
  };
}
