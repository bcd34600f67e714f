import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandContext } from '../../src/commands/context.js';

/**
 * Whether a command shows a spinner on stderr (src/commands/context.ts): only when a person watches a terminal
 * that can redraw a line. stderr is made to look like a terminal here (its isTTY and columns, as Node sets them);
 * what is written to it is kept, not shown.
 */
/** A terminal's cursor methods, which the spinner calls and a pipe (stderr under vitest) lacks. */
const TERMINAL_METHODS = ['cursorTo', 'clearLine', 'moveCursor'] as const;
const hadMethod = Object.fromEntries(TERMINAL_METHODS.map((method) => [method, method in process.stderr]));
const saved = { isTTY: process.stderr.isTTY, columns: process.stderr.columns, CI: process.env.CI, TERM: process.env.TERM };

afterEach(() => {
  vi.restoreAllMocks();
  Object.assign(process.stderr, { isTTY: saved.isTTY, columns: saved.columns });
  for (const method of TERMINAL_METHODS) if (!hadMethod[method]) delete (process.stderr as unknown as Record<string, unknown>)[method];
  for (const name of ['CI', 'TERM'] as const) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** What one unit of long work writes to stderr under these conditions. */
async function stderrOfProgress(terminal: { isTTY: boolean | undefined; columns: number | undefined; ci?: string }, global: { json?: boolean; quiet?: boolean } = {}): Promise<string> {
  Object.assign(process.stderr, { isTTY: terminal.isTTY, columns: terminal.columns });
  for (const method of TERMINAL_METHODS) if (!hadMethod[method]) Object.assign(process.stderr, { [method]: () => true });
  process.env.TERM = 'xterm-256color';
  if (terminal.ci === undefined) delete process.env.CI;
  else process.env.CI = terminal.ci;
  let written = '';
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array) => ((written += String(chunk)), true)) as typeof process.stderr.write);
  const out = { write: () => true } as unknown as NodeJS.WritableStream;
  const context = await createCommandContext({ json: global.json ?? false, debug: false, quiet: global.quiet ?? false }, out);
  const work = context.log.progress('reading the workbook');
  work.done('read');
  return written;
}

describe('the spinner on stderr', () => {
  it('is shown on a terminal with a width, outside CI and --json', async () => {
    expect(await stderrOfProgress({ isTTY: true, columns: 100 })).toContain('reading the workbook');
  });

  it('is not shown when stderr is not a terminal, has no width, or under CI, --json or --quiet', async () => {
    expect(await stderrOfProgress({ isTTY: false, columns: 100 })).toBe('');
    expect(await stderrOfProgress({ isTTY: undefined, columns: 100 })).toBe('');
    expect(await stderrOfProgress({ isTTY: true, columns: 0 })).toBe('');
    expect(await stderrOfProgress({ isTTY: true, columns: undefined })).toBe('');
    expect(await stderrOfProgress({ isTTY: true, columns: 100, ci: 'true' })).toBe('');
    expect(await stderrOfProgress({ isTTY: true, columns: 100 }, { json: true })).toBe('');
    expect(await stderrOfProgress({ isTTY: true, columns: 100 }, { quiet: true })).toBe('');
  });
});
