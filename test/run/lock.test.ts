import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { createLogger, type Logger } from '../../src/core/log.js';
import { acquireLock, acquireRawLock, PipelineBusyError } from '../../src/run/lock.js';

/**
 * The pipeline lock in-process (src/run/lock.ts), so that Stryker sees its mutants: two cron runs of one pipeline
 * must not overlap (the second exits 75, EX_TEMPFAIL), and a run killed part-way must not block every later run.
 * The end-to-end form (a real `etl run` holding the lock) is in test/run/pipeline.test.ts and test/run/odd-state.test.ts.
 */
let work: string;
/** A live process whose command line holds `etl.js`, as a running etl's does. */
let etl: ChildProcess;
const NOW = new Date('2026-12-06T06:15:00.000Z');

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-lock-'));
  const script = path.join(work, 'etl.js');
  await writeFile(script, 'setInterval(() => {}, 1000);\n');
  etl = spawn(process.execPath, [script], { stdio: 'ignore' });
  await once(etl, 'spawn');
});
afterAll(async () => {
  etl?.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

function logger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const stream = { write: (line: string) => (warnings.push(JSON.parse(line).msg), true) } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ json: true, quiet: true, stream, interactive: false }), warnings };
}

let count = 0;
async function dataDir(): Promise<string> {
  const dir = path.join(work, `data-${++count}`);
  await mkdir(dir);
  return dir;
}
const lockFile = (dir: string, name = 'ons-monthly-deaths') => path.join(dir, 'locks', `${name}.lock`);
/** A PID that was in use a moment ago and is no longer. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('acquireLock', () => {
  it('writes the holder (pid, start, run id) into <data-dir>/locks/<pipeline>.lock, leaves no draft, and release removes it', async () => {
    const dir = await dataDir();
    const { log, warnings } = logger();
    const lock = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', log, NOW);
    expect(lock.tookOverFrom).toBeUndefined();
    expect(await readFile(lockFile(dir), 'utf8')).toBe(JSON.stringify({ pid: process.pid, started_at: NOW.toISOString(), run_id: 'run-1' }) + '\n');
    expect(await readdir(path.join(dir, 'locks'))).toEqual(['ons-monthly-deaths.lock']);
    await lock.release();
    expect(await readdir(path.join(dir, 'locks'))).toEqual([]);
    // Taken again after release, with no warning.
    await (await acquireLock(dir, 'ons-monthly-deaths', 'run-2', log, NOW)).release();
    expect(warnings).toEqual([]);
  });

  it('a lock held by a live etl process: exit 75 naming the PID and its start, and the lock left as it was', async () => {
    const dir = await dataDir();
    await mkdir(path.join(dir, 'locks'));
    const holder = JSON.stringify({ pid: etl.pid, started_at: '2026-12-06T06:00:00.000Z', run_id: 'other' }) + '\n';
    await writeFile(lockFile(dir), holder);
    const error = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', logger().log, NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineBusyError);
    expect((error as PipelineBusyError).exitCode).toBe(75);
    expect((error as PipelineBusyError).kind).toBe('busy');
    expect((error as Error).message).toBe(`pipeline ons-monthly-deaths is already running: PID ${etl.pid}, started 2026-12-06T06:00:00.000Z`);
    expect((error as PipelineBusyError).hint).toBe('this run did nothing; cron will try again at the next slot');
    expect(await readFile(lockFile(dir), 'utf8')).toBe(holder);
    expect(await readdir(path.join(dir, 'locks'))).toEqual(['ons-monthly-deaths.lock']);
  });

  it.each([
    ['a process that has ended', () => deadPid()],
    ['a live process that is not etl (its PID reused)', () => process.pid],
  ])('a lock held by %s is taken over with one warning; the new holder is this run', async (_what, pid) => {
    const dir = await dataDir();
    await mkdir(path.join(dir, 'locks'));
    const old = { pid: pid(), started_at: '2026-12-05T06:15:00.000Z', run_id: 'killed-run' };
    await writeFile(lockFile(dir), JSON.stringify(old) + '\n');
    const { log, warnings } = logger();
    const lock = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', log, NOW);
    expect(lock.tookOverFrom).toEqual(old);
    expect(warnings).toEqual([`took over the lock of pipeline ons-monthly-deaths from PID ${old.pid} (started 2026-12-05T06:15:00.000Z), which is no longer running`]);
    expect(JSON.parse(await readFile(lockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid, run_id: 'run-1' });
    expect(await readdir(path.join(dir, 'locks'))).toEqual(['ons-monthly-deaths.lock']);
    await lock.release();
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it.each([
    ['not JSON', 'half a line'],
    ['empty', ''],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['a holder without a whole-number pid', JSON.stringify({ pid: '12', started_at: 'x', run_id: 'y' })],
    ['bigger than a lock etl writes', JSON.stringify({ pid: 0, started_at: 'x', run_id: 'y', pad: 'x'.repeat(5000) })],
  ])('a damaged lock file (%s) is taken over with a warning naming the file', async (_what, text) => {
    const dir = await dataDir();
    await mkdir(path.join(dir, 'locks'));
    await writeFile(lockFile(dir), text);
    const { log, warnings } = logger();
    const lock = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', log, NOW);
    expect(lock.tookOverFrom).toBeUndefined();
    expect(warnings).toEqual([`took over a damaged lock file ${lockFile(dir)}`]);
    expect(JSON.parse(await readFile(lockFile(dir), 'utf8'))).toMatchObject({ run_id: 'run-1' });
    await lock.release();
  });

  it('a lock file of 4096 bytes holding a live etl PID is still read: the run is refused', async () => {
    const dir = await dataDir();
    await mkdir(path.join(dir, 'locks'));
    const holder = JSON.stringify({ pid: etl.pid, started_at: 's', run_id: 'r' });
    await writeFile(lockFile(dir), holder.padEnd(4096, ' '));
    await expect(acquireLock(dir, 'ons-monthly-deaths', 'run-1', logger().log, NOW)).rejects.toThrow(`PID ${etl.pid}`);
  });

  it('etl is recognised by a command-line argument named exactly etl or etl.js: bin/etl counts, myetl.js and etl.jsx do not', async () => {
    const started: ChildProcess[] = [];
    const live = async (name: string): Promise<number> => {
      const script = path.join(work, `named-${count}`, name);
      await mkdir(path.dirname(script), { recursive: true });
      await writeFile(script, 'setInterval(() => {}, 1000);\n');
      const child = spawn(process.execPath, [script], { stdio: 'ignore' });
      started.push(child);
      await once(child, 'spawn');
      return child.pid!;
    };
    try {
      for (const [name, busy] of [['etl', true], ['myetl.js', false], ['etl.jsx', false], ['etl.js.bak', false]] as const) {
        const dir = await dataDir();
        await mkdir(path.join(dir, 'locks'));
        const pid = await live(name);
        await writeFile(lockFile(dir), JSON.stringify({ pid, started_at: 's', run_id: 'other' }));
        const outcome = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', logger().log, NOW).then(
          async (lock) => (await lock.release(), 'taken over'),
          (error: unknown) => (error instanceof PipelineBusyError ? 'busy' : String(error)),
        );
        expect([name, outcome]).toEqual([name, busy ? 'busy' : 'taken over']);
      }
    } finally {
      for (const child of started) child.kill('SIGKILL');
    }
  });

  it('a directory or a FIFO where the lock should be: a config error naming what it is, nothing renamed', async () => {
    const dir = await dataDir();
    await mkdir(lockFile(dir), { recursive: true });
    const error = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', logger().log, NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`the lock ${lockFile(dir)} is a directory, not a lock file etl wrote`);
    expect((error as ConfigError).hint).toBe('remove it, then run again: etl creates the lock file itself');

    const fifoDir = await dataDir();
    await mkdir(path.join(fifoDir, 'locks'));
    expect(spawnSync('mkfifo', [lockFile(fifoDir)]).status).toBe(0);
    await expect(acquireLock(fifoDir, 'ons-monthly-deaths', 'run-1', logger().log, NOW)).rejects.toThrow(`the lock ${lockFile(fifoDir)} is a FIFO, not a lock file etl wrote`);
    expect(await readdir(path.join(fifoDir, 'locks'))).toEqual(['ons-monthly-deaths.lock']);
  });

  it('release removes the lock only while this run holds it: a run that took over keeps its lock', async () => {
    const dir = await dataDir();
    const { log } = logger();
    const first = await acquireLock(dir, 'ons-monthly-deaths', 'run-1', log, NOW);
    // Another run finds the lock stale (as if run-1 had been killed) and takes it.
    await writeFile(lockFile(dir), JSON.stringify({ pid: deadPid(), started_at: NOW.toISOString(), run_id: 'run-1' }) + '\n');
    const second = await acquireLock(dir, 'ons-monthly-deaths', 'run-2', log, NOW);
    await first.release();
    expect(JSON.parse(await readFile(lockFile(dir), 'utf8'))).toMatchObject({ run_id: 'run-2' });
    await second.release();
    expect(existsSync(lockFile(dir))).toBe(false);
    // Released twice, or after the file is gone: nothing to do, no error.
    await second.release();
  });
});

describe('acquireRawLock', () => {
  it('locks raw.<source>.<dataset>[.<instance>] and names what it guards when busy', async () => {
    const dir = await dataDir();
    const { log } = logger();
    const lock = await acquireRawLock(dir, 'ons', 'monthly-deaths', 'run-1', log);
    const withInstance = await acquireRawLock(dir, 'climatempo', 'forecast', 'run-1', log, 'city-3477');
    expect((await readdir(path.join(dir, 'locks'))).sort()).toEqual(['raw.climatempo.forecast.city-3477.lock', 'raw.ons.monthly-deaths.lock']);
    await lock.release();
    await withInstance.release();

    await writeFile(lockFile(dir, 'raw.ons.monthly-deaths'), JSON.stringify({ pid: etl.pid, started_at: 'then', run_id: 'x' }));
    await expect(acquireRawLock(dir, 'ons', 'monthly-deaths', 'run-1', log)).rejects.toThrow(`an extract or transform of ons monthly-deaths is already running: PID ${etl.pid}, started then`);
    await writeFile(lockFile(dir, 'raw.climatempo.forecast.city-3477'), JSON.stringify({ pid: etl.pid, started_at: 'then', run_id: 'x' }));
    await expect(acquireRawLock(dir, 'climatempo', 'forecast', 'run-1', log, 'city-3477')).rejects.toThrow(`an extract or transform of climatempo forecast city-3477 is already running`);
  });

  it('refuses a source or dataset that is not a name (it would pick a path)', async () => {
    const dir = await dataDir();
    // Refused before anything is created (it throws rather than returning a rejected promise).
    expect(() => acquireRawLock(dir, '../ons', 'monthly-deaths', 'run-1', logger().log)).toThrow(/^source "\.\.\/ons" is not a name etl accepts/);
    expect(() => acquireRawLock(dir, 'ons', 'a/b', 'run-1', logger().log)).toThrow(/^dataset "a\/b" is not a name etl accepts/);
    expect(existsSync(path.join(dir, 'locks'))).toBe(false);
  });
});
