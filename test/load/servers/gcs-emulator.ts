import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The nearest folder up with a package.json: the same root whether this runs from test/ or compiled into bench/out/build/. */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
/**
 * Installed by `npm run install-gcs-emulator` (and .ci/run): kept out of the main dependency tree. ETL_GCS_EMULATOR_DIR
 * points elsewhere: `npm run test:mutation` runs the tests in a sandbox copy that leaves nested node_modules out.
 */
export const GCS_EMULATOR_DIR = process.env.ETL_GCS_EMULATOR_DIR ?? path.join(repoRoot, '.ci', 'cache', 'gcs-emulator');
/** Plain JavaScript, so it stays in the source tree (tsc does not copy it into a build). */
const EMULATOR_SCRIPT = path.join(repoRoot, 'test', 'load', 'servers', 'gcs-emulator.mjs');

export function gcsEmulatorInstalled(): boolean {
  return existsSync(path.join(GCS_EMULATOR_DIR, 'node_modules', 'firebase-tools', 'package.json'));
}

export interface RunningGcsEmulator {
  url: string;
  stop(): Promise<void>;
}

/** The firebase-tools Cloud Storage emulator in a child process on a random loopback port. */
export async function startGcsEmulator(): Promise<RunningGcsEmulator> {
  // The emulator keeps blobs under os.tmpdir(); a private TMPDIR keeps parallel test files apart.
  const privateTmp = await mkdtemp(path.join(tmpdir(), 'etl-gcs-emulator-'));
  const child = spawn(process.execPath, [EMULATOR_SCRIPT, GCS_EMULATOR_DIR], {
    env: { ...process.env, TMPDIR: privateTmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('{"port"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`GCS emulator exited with ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(privateTmp, { recursive: true, force: true });
    },
  };
}
