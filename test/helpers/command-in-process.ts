import type { Command } from 'commander';
import { createCommandContext, type CommandContext } from '../../src/commands/context.js';
import { createLogger } from '../../src/core/log.js';

export interface InProcessResult {
  /** What the command printed as its result (one line or block, or one JSON object with --json). */
  stdout: string;
  /** The log lines it wrote (info included, plain text, or JSON records with `json`). */
  logs: string[];
  /** What it threw (an EtlError carries the exit code the CLI would use); undefined when it succeeded. */
  error?: unknown;
}

/**
 * Runs one command (`extractCommand`, `loadCommand`, …) in this process as `etl [--json] <args>` would, with its
 * stdout and log kept: so a mutant of src/commands is seen by Stryker, which cannot see the spawned CLI.
 */
export async function runInProcess(create: (context: () => Promise<CommandContext>) => Command, args: string[], options: { json?: boolean } = {}): Promise<InProcessResult> {
  const json = options.json ?? false;
  let stdout = '';
  const logs: string[] = [];
  const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
  const stream = { write: (line: string) => (logs.push(line.trimEnd()), true) } as unknown as NodeJS.WritableStream;
  const context: CommandContext = { ...(await createCommandContext({ json, debug: false, quiet: false }, out)), log: createLogger({ json, stream, interactive: false }) };
  try {
    await create(async () => context).exitOverride().configureOutput({ outputError: () => {}, writeOut: () => {} }).parseAsync(args, { from: 'user' });
    return { stdout, logs };
  } catch (error) {
    return { stdout, logs, error };
  }
}
