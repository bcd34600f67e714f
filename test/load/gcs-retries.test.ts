import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

/**
 * GCS failures go through etl's one retry policy (load-files.ts), not the SDK's silent retries underneath:
 * a closed port fails in about as long as S3 takes (under 2 s), and each warning's stated wait is the
 * time that really passes before the next attempt. Measured loosely: the machine may be busy.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-gcs-retries-'));
  await writeFile(path.join(dir, 'deaths.csv'), 'a,b\n1,2\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on: taken, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('etl load to gs:// when the endpoint refuses connections', () => {
  it('fails within a few seconds (exit 5), and each "attempt n/3 in x s" waits about x s', async () => {
    const started = Date.now();
    const run = await runCli(['--json', 'load', path.join(dir, 'deaths.csv'), '--bucket', 'gs://etl-test/p/', '--endpoint', `http://127.0.0.1:${await closedPort()}`], {
      env: { METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'etl-test' },
    });
    const seconds = (Date.now() - started) / 1000;
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
    // The SDK's own retries took about 21 s here, with 6-7 s between warnings that said 0.3 s.
    expect(seconds).toBeLessThan(8);
    const lines = run.stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { time: string; level: string; msg: string });
    const warnings = lines.filter((line) => line.level === 'warn' && /attempt \d\/3 in [\d.]+ s/.test(line.msg));
    expect(warnings.map((w) => /attempt (\d)\/3/.exec(w.msg)![1])).toEqual(['2', '3']);
    const failed = lines.find((line) => line.level === 'error')!;
    const next = [...warnings.slice(1), failed];
    warnings.forEach((warning, i) => {
      const stated = Number(/in ([\d.]+) s/.exec(warning.msg)![1]);
      const passed = (Date.parse(next[i]!.time) - Date.parse(warning.time)) / 1000;
      // The wait stated, then one refused connection: nothing hidden in between.
      expect(passed).toBeGreaterThanOrEqual(stated - 0.1);
      expect(passed).toBeLessThan(stated + 2);
    });
  });
});
