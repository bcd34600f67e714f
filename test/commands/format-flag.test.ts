import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/commands/context.js';
import { runCommand } from '../../src/commands/run.js';
import { runInProcess } from '../helpers/command-in-process.js';

/** `--format` takes `parquet` or `delta` and nothing else (src/commands/options.ts), parsed in-process. */
const noContext = (): Promise<CommandContext> => Promise.reject(new Error('these tests run no command'));

describe('--format', () => {
  it('takes parquet and delta', async () => {
    for (const format of ['parquet', 'delta']) {
      const run = runCommand(noContext).exitOverride();
      let given: unknown;
      run.action((_source: unknown, _dataset: unknown, flags: Record<string, unknown>, _command: Command) => {
        given = flags.format;
      });
      await run.parseAsync(['ons', '--format', format], { from: 'user' });
      expect(given).toBe(format);
    }
  });

  it('refuses any other format, naming the choices', async () => {
    const { error } = await runInProcess(runCommand, ['ons', '--format', 'csv']);
    expect(error).toMatchObject({ code: 'commander.invalidArgument' });
    expect((error as Error).message).toContain("Allowed choices are parquet, delta.");
  });
});
