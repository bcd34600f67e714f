import { AsyncLocalStorage } from 'node:async_hooks';
import { main } from '../../src/cli.js';
import { forgetSecrets } from '../../src/core/redact.js';
import type { CliOptions, CliResult } from './run-cli.js';

/**
 * `etl <args>` through the CLI's own `main` (src/cli.ts) in this process: the same parsing, exit codes and error
 * lines as the built CLI, without a process start and a module load per run (0.3-1.5 CPU s each; the suite is
 * CPU-bound on them). For what the process itself does (signals, --timeout's exit, the real environment of a cron
 * job) keep `runCli`. What a run writes on stdout and stderr is captured per call, so calls may overlap; calls whose
 * environment or working directory differ wait for each other, and process.env is restored when the last one ends.
 * Each session (calls with the same environment and directory) starts with no registered secret, as a process does.
 */
export async function runCliInProcess(args: string[], options: CliOptions = {}): Promise<CliResult> {
  installCapture();
  const session = JSON.stringify([options.cwd ?? null, Object.entries(options.env ?? {}).sort()]);
  await enter(session, options);
  const output = { stdout: '', stderr: '' };
  try {
    const code = await captured.run(output, () => main([process.execPath, 'etl', ...args]));
    return { code, signal: null, stdout: output.stdout, stderr: output.stderr };
  } finally {
    leave();
  }
}

const captured = new AsyncLocalStorage<{ stdout: string; stderr: string }>();
let captureInstalled = false;

/** process.stdout/stderr writes made inside a call go to that call's output; all others pass through. */
function installCapture(): void {
  if (captureInstalled) return;
  captureInstalled = true;
  for (const [stream, key] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const output = captured.getStore();
      if (!output) return write(chunk, ...rest);
      output[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
}

let active: { session: string; calls: number; env: NodeJS.ProcessEnv; cwd: string } | undefined;
const waiting: Array<() => void> = [];

async function enter(session: string, options: CliOptions): Promise<void> {
  while (active && active.session !== session) await new Promise<void>((resolve) => waiting.push(resolve));
  if (active) {
    active.calls++;
    return;
  }
  active = { session, calls: 1, env: { ...process.env }, cwd: process.cwd() };
  // A process starts knowing no secret: one an earlier run registered would mask this run's leaks of it.
  forgetSecrets();
  // As runCli: CI=true (no spinner), then the caller's variables.
  Object.assign(process.env, { CI: 'true', ...options.env });
  if (options.cwd) process.chdir(options.cwd);
}

function leave(): void {
  if (!active || --active.calls > 0) return;
  // A .env the CLI applied, and the caller's variables, end with the session.
  for (const name of Object.keys(process.env)) if (!(name in active.env)) delete process.env[name];
  Object.assign(process.env, active.env);
  process.chdir(active.cwd);
  active = undefined;
  for (const resolve of waiting.splice(0)) resolve();
}
