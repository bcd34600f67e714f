import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCommandContext } from '../../src/commands/context.js';
import { loadSpinner } from '../../src/core/log.js';

/**
 * `--log-file` stays JSON lines, one per line (src/commands/context.ts): after the result line, and while a
 * spinner runs on the terminal. stderr is made to look like a terminal (isTTY, columns, cursor methods).
 */
const TERMINAL = { isTTY: process.stderr.isTTY, columns: process.stderr.columns, CI: process.env.CI };
const CURSOR_METHODS = ['cursorTo', 'clearLine', 'moveCursor'] as const;
const hadMethod = Object.fromEntries(CURSOR_METHODS.map((method) => [method, method in process.stderr]));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-log-file-lines-'));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});

afterEach(async () => {
  vi.restoreAllMocks();
  Object.assign(process.stderr, { isTTY: TERMINAL.isTTY, columns: TERMINAL.columns });
  for (const method of CURSOR_METHODS) if (!hadMethod[method]) delete (process.stderr as unknown as Record<string, unknown>)[method];
  if (TERMINAL.CI === undefined) delete process.env.CI;
  else process.env.CI = TERMINAL.CI;
  await rm(dir, { recursive: true, force: true });
});

const jsonLines = async (file: string): Promise<Array<Record<string, unknown>>> => (await readFile(file, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line));

describe('--log-file lines', () => {
  it('the result line ends its line: what is logged after it is a line of its own', async () => {
    const file = path.join(dir, 'etl.log');
    const context = await createCommandContext({ json: false, debug: false, quiet: false, logFile: file }, { write: () => true } as unknown as NodeJS.WritableStream);
    context.printResult('done', { command: 'x' });
    context.log.warn('after the result');
    expect((await jsonLines(file)).map((line) => line.msg)).toEqual(['done', 'after the result']);
  });

  it('a spinner on the terminal draws nothing into the log file', async () => {
    Object.assign(process.stderr, { isTTY: true, columns: 100 });
    for (const method of CURSOR_METHODS) if (!hadMethod[method]) Object.assign(process.stderr, { [method]: () => true });
    delete process.env.CI;
    await loadSpinner();
    const file = path.join(dir, 'etl.log');
    const context = await createCommandContext({ json: false, debug: false, quiet: false, logFile: file }, { write: () => true } as unknown as NodeJS.WritableStream);
    const work = context.log.progress('reading the workbook');
    context.log.warn('a warning while it spins');
    work.done('read');
    expect((await jsonLines(file)).map((line) => line.msg)).toEqual(['a warning while it spins']);
  });
});
