import { main } from '../../src/cli.js';

export interface EtlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI entry in this process, as `etl ARGS` with extra environment variables, capturing what it
 * prints. Test files run in their own worker processes, and one at a time within a file, so this is safe.
 */
export async function runEtl(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<EtlRun> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  const writes = { stdout: '', stderr: '' };
  const original = { stdout: process.stdout.write, stderr: process.stderr.write };
  const capture = (stream: 'stdout' | 'stderr') => ((chunk: string | Uint8Array) => {
    writes[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  setEnv(env);
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const code = await main(['node', 'etl', ...args]);
    return { code, ...writes };
  } finally {
    process.stdout.write = original.stdout;
    process.stderr.write = original.stderr;
    setEnv(saved);
  }
}

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/** The --json result line of a run. */
export function resultOf(run: EtlRun): LoadResult {
  const line = run.stdout.trim().split('\n').at(-1);
  if (!line) throw new Error(`no result on stdout; stderr: ${run.stderr}`);
  return JSON.parse(line) as LoadResult;
}

export interface LoadResult {
  uploaded: number;
  skipped: number;
  failed: number;
  bytes_uploaded: number;
  files: Array<{ path: string; uri: string; action: string; reason: string; bytes: number; method?: string; parts?: number; verified_with?: string }>;
}
