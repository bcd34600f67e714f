import { redact } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/**
 * A unit of long work: a spinner on a TTY, nothing otherwise. done() and fail() only close it; their text is
 * a debug line, because the command's result on stdout (or its error line) already says how it ended and a
 * summary must not be printed twice.
 */
export interface Progress {
  update(text: string): void;
  done(text: string): void;
  fail(text: string): void;
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  progress(text: string): Progress;
}

export interface LoggerOptions {
  /** One JSON object per line (for cron and log shippers) instead of plain lines. */
  json?: boolean;
  debug?: boolean;
  quiet?: boolean;
  /** Where lines go; stderr by default so stdout carries only results. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Spinners only where a person watches; injected for tests. */
  interactive?: boolean;
}

/**
 * C0/C1 control characters, DEL, Unicode line/paragraph separators and bidi overrides. Text from files
 * (a sheet name, a label) can hold them: a newline would forge a log line, ESC would drive the terminal.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_OR_LINE_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Human output shows such characters escaped (`\n`, `\x1b`, `\u2028`), so each message stays one line
 * of plain text. `keepLineBreaks` is for results that are several lines by design (etl inspect).
 */
export function escapeControl(text: string, keepLineBreaks = false): string {
  return text.replace(keepLineBreaks ? CONTROL : CONTROL_OR_LINE_BREAK, (char) => {
    const code = char.charCodeAt(0);
    // Those above U+00FF (U+2028 and up) have four hex digits already.
    return ESCAPES[char] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}

type Spinner = { text: string; start(): Spinner; stop(): void };
type SpinnerFactory = (options: { text: string; stream: NodeJS.WritableStream }) => Spinner;

let spinnerFactory: SpinnerFactory | undefined;

/** ora is loaded only when a TTY will show it, to keep start-up fast under cron. */
export async function loadSpinner(): Promise<void> {
  const { default: ora } = await import('ora');
  // Leave stdin alone: a cron job or a pipe may own it.
  spinnerFactory = (options) => ora({ ...options, discardStdin: false }) as unknown as Spinner;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? (Boolean(stream.isTTY) && !options.json && !process.env.CI);
  let activeSpinner: Spinner | undefined;

  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (level === 'debug' && !options.debug) return;
    if (options.quiet && (level === 'info' || level === 'debug')) return;
    // The line goes above the spinner: stop it, write, start it again (its text is kept).
    activeSpinner?.stop();
    if (options.json) {
      const record = { time: new Date().toISOString(), level, msg: message, ...fields };
      stream.write(redact(JSON.stringify(record)) + '\n');
    } else {
      const prefix = level === 'info' ? '' : `${level}: `;
      const extra = fields && Object.keys(fields).length > 0 && options.debug ? ' ' + JSON.stringify(fields) : '';
      stream.write(redact(escapeControl(prefix + message + extra)) + '\n');
    }
    activeSpinner?.start();
  };

  const progress = (text: string): Progress => {
    if (interactive && spinnerFactory && !options.quiet) {
      const spinner = spinnerFactory({ text: redact(escapeControl(text)), stream }).start();
      activeSpinner = spinner;
      const finish = (line: string): void => {
        if (activeSpinner === spinner) activeSpinner = undefined;
        spinner.stop();
        write('debug', line);
      };
      return {
        update: (next) => { spinner.text = redact(escapeControl(next)); },
        done: finish,
        fail: finish,
      };
    }
    write('debug', text);
    return {
      update: () => {},
      done: (line) => write('debug', line),
      fail: (line) => write('debug', line),
    };
  };

  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    progress,
  };
}


/** Every line goes to both loggers: human lines on stderr and JSON lines in a --log-file, say. */
export function teeLogger(first: Logger, second: Logger): Logger {
  const both = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields): void => {
    first[level](message, fields);
    second[level](message, fields);
  };
  return {
    debug: both('debug'),
    info: both('info'),
    warn: both('warn'),
    error: both('error'),
    progress(text) {
      const progresses = [first.progress(text), second.progress(text)];
      return {
        update: (next) => progresses.forEach((p) => p.update(next)),
        done: (line) => progresses.forEach((p) => p.done(line)),
        fail: (line) => progresses.forEach((p) => p.fail(line)),
      };
    },
  };
}
