import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCommand } from '../../src/commands/inspect.js';
import { ConfigError } from '../../src/core/errors.js';
import { runInProcess } from '../helpers/command-in-process.js';

/** `etl inspect` refusals before anything is read (src/commands/inspect.ts), in-process. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-inspect-refusals-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('etl inspect refuses', () => {
  it('no file: commander names the missing argument', async () => {
    const { error } = await runInProcess(inspectCommand, []);
    expect(error).toMatchObject({ code: 'commander.missingArgument' });
    expect((error as Error).message).toContain("missing required argument 'file'");
  });

  it('a folder whose _delta_log/ holds no commit: not a Delta table, with where to point', async () => {
    const table = path.join(dir, 'empty-table');
    await mkdir(path.join(table, '_delta_log'), { recursive: true });
    const { error } = await runInProcess(inspectCommand, [table]);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`${table} is not a Delta table (no _delta_log/ commits)`);
    expect((error as ConfigError).hint).toBe('point at the folder that holds _delta_log/');
  });

  it('--version-as-of on a file that is not a Delta table', async () => {
    const file = path.join(dir, 'x.parquet');
    await writeFile(file, 'PAR1');
    const { error } = await runInProcess(inspectCommand, [file, '--version-as-of', '2']);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe('--version-as-of goes with a Delta table');
    expect((error as ConfigError).hint).toBe(`${file} is not a folder holding _delta_log/`);
  });
});
