import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWriteError, isTempFile, removeLiveTempFiles, sweepDeadTempFiles, TEMP_PREFIX, tempPathFor, trackTempFile, withAtomicFile, writeFileAtomic } from '../../src/core/atomic-file.js';
import { mapWithLimit, sleep } from '../../src/core/concurrency.js';
import { LoadError } from '../../src/core/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sweepDeadTempFiles', () => {
  it("removes what dead runs left and never a live run's files", async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const folder = path.join(dir, 'sweep');
    await mkdir(path.join(folder, '2019'), { recursive: true });
    const files = {
      dead: path.join(folder, `.etl-tmp-${deadPid}-a1b2c3d4e5f6-deaths.parquet`),
      deadScratch: path.join(folder, `.etl-tmp-${deadPid}-a1b2c3d4e5f6-deaths.parquet.0.parquet`),
      deadBelow: path.join(folder, '2019', `.etl-tmp-${deadPid}-0a0b0c0d0e0f-book.xlsx`),
      olderEtl: path.join(folder, '.etl-tmp-a1b2c3d4e5f6-deaths.parquet'),
      // PID 0 names no writer (process.kill(0, 0) would answer for this process group).
      pidZero: path.join(folder, '.etl-tmp-0-a1b2c3d4e5f6-deaths.parquet'),
      live: path.join(folder, `.etl-tmp-${live.pid}-a1b2c3d4e5f6-deaths.parquet`),
      output: path.join(folder, 'deaths.parquet'),
    };
    for (const file of Object.values(files)) await writeFile(file, 'x');
    try {
      expect((await sweepDeadTempFiles(folder)).sort()).toEqual([files.dead, files.deadScratch, files.olderEtl, files.pidZero].sort());
      expect(await sweepDeadTempFiles(folder, { recursive: true })).toEqual([files.deadBelow]);
      expect((await readdir(folder)).sort()).toEqual([path.basename(files.live), '2019', 'deaths.parquet'].sort());
    } finally {
      live.kill();
    }
  });

  it("keeps this process's own writes in flight", async () => {
    const destination = path.join(dir, 'own', 'out.bin');
    await withAtomicFile(destination, async (temp) => {
      await writeFile(temp, 'in flight');
      expect(path.basename(temp)).toMatch(new RegExp(`^\\.etl-tmp-${process.pid}-[0-9a-f]{12}-out\\.bin$`));
      expect(await sweepDeadTempFiles(path.dirname(destination))).toEqual([]);
    });
    const leftover = tempPathFor(destination); // same PID, but no live write: left by an earlier run with this PID
    await writeFile(leftover, 'x');
    expect(await sweepDeadTempFiles(path.dirname(destination))).toEqual([leftover]);
  });

  it("keeps this process's live scratch files and the files a database writes beside them", async () => {
    const folder = path.join(dir, 'scratch');
    await mkdir(folder);
    const scratch = tempPathFor(path.join(folder, 'deaths.duckdb'));
    const beside = [scratch, `${scratch}.wal`, `${scratch}.tmp`];
    for (const file of beside) await writeFile(file, 'x');
    const untrack = trackTempFile(scratch);
    expect(await sweepDeadTempFiles(folder)).toEqual([]);
    untrack();
    expect((await sweepDeadTempFiles(folder)).sort()).toEqual([...beside].sort());
  });
});

describe('withAtomicFile', () => {
  it('writes beside the destination under a temp name, then renames it into place (creating folders)', async () => {
    const destination = path.join(dir, 'new', 'deep', 'out.parquet');
    const result = await withAtomicFile(destination, async (temp) => {
      expect(path.dirname(temp)).toBe(path.dirname(destination));
      expect(path.basename(temp)).toMatch(new RegExp(`^\\${TEMP_PREFIX}${process.pid}-[0-9a-f]{12}-out\\.parquet$`));
      await writeFile(temp, 'new bytes');
      return 42;
    });
    expect(result).toBe(42);
    expect(await readFile(destination, 'utf8')).toBe('new bytes');
    expect(await readdir(path.dirname(destination))).toEqual(['out.parquet']);
  });

  it('a failed write keeps the previous file byte for byte and leaves no temp file', async () => {
    const destination = path.join(dir, 'kept.csv');
    await writeFileAtomic(destination, 'previous good output');
    await expect(withAtomicFile(destination, async (temp) => {
      await writeFile(temp, 'half');
      throw new Error('disk on fire');
    })).rejects.toThrow('disk on fire');
    expect(await readFile(destination, 'utf8')).toBe('previous good output');
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/^\.etl-tmp-/));
  });

  it('a signal mid-write removes the temp files still in flight, tracked ones too', async () => {
    const destination = path.join(dir, 'signalled.csv');
    const scratch = path.join(dir, `${TEMP_PREFIX}scratch.duckdb`);
    await writeFile(scratch, 'scratch');
    trackTempFile(scratch);
    const untracked = path.join(dir, `${TEMP_PREFIX}untracked`);
    await writeFile(untracked, 'not ours to remove');
    await withAtomicFile(destination, async (temp) => {
      await writeFile(temp, 'partial');
      removeLiveTempFiles();
      expect(await readdir(dir)).not.toContain(path.basename(temp));
      await writeFile(temp, 'rewritten after the sweep');
    });
    expect(await readdir(dir)).not.toContain(path.basename(scratch));
    expect(await readdir(dir)).toContain(path.basename(untracked));
  });

  it('a signal before a tracked temp file was created removes the others all the same', async () => {
    const notYet = path.join(dir, `${TEMP_PREFIX}not-yet-created`);
    const created = path.join(dir, `${TEMP_PREFIX}created`);
    await writeFile(created, 'x');
    trackTempFile(notYet);
    trackTempFile(created);
    expect(() => removeLiveTempFiles()).not.toThrow();
    expect(await readdir(dir)).not.toContain(path.basename(created));
  });

  it('a tracked file that was released is not removed on a signal', async () => {
    const scratch = path.join(dir, `${TEMP_PREFIX}released`);
    await writeFile(scratch, 'kept');
    trackTempFile(scratch)();
    removeLiveTempFiles();
    expect(await readFile(scratch, 'utf8')).toBe('kept');
  });

  it.each([
    ['.etl-tmp-0a1b2c-out.parquet', true],
    ['/data/raw/.etl-tmp-0a1b2c-x.xls', true],
    ['out.parquet', false],
    ['/data/.etl-tmp-dir/out.parquet', false],
    ['my.etl-tmp-out.parquet', false],
  ])('isTempFile(%s) is %s', (name, expected) => {
    expect(isTempFile(name)).toBe(expected);
  });
});

describe('mapWithLimit', () => {
  it('keeps input order, never exceeds the limit, and uses it fully', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapWithLimit([5, 1, 4, 2, 3], 2, async (item, index) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return `${index}:${item * 10}`;
    });
    expect(results).toEqual(['0:50', '1:10', '2:40', '3:20', '4:30']);
    expect(most).toBe(2);
  });

  it('runs one at a time for a limit below 1, and nothing for no items', async () => {
    const seen: number[] = [];
    expect(await mapWithLimit([1, 2, 3], 0, async (item) => { seen.push(item); return item; })).toEqual([1, 2, 3]);
    expect(seen).toEqual([1, 2, 3]);
    expect(await mapWithLimit([], 4, async () => { throw new Error('never called'); })).toEqual([]);
  });
});

describe('sleep', () => {
  it('resolves after the timers due before it, not at once', async () => {
    const order: string[] = [];
    setTimeout(() => order.push('timer due in 1 ms'), 1);
    await sleep(20);
    order.push('slept 20 ms');
    expect(order).toEqual(['timer due in 1 ms', 'slept 20 ms']);
  });
});

describe('describeWriteError', () => {
  const fsError = (code: string, syscall: string) => Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall });

  it('a failed local write is a load error naming the target (a full disk says so); anything else is left as it is', () => {
    const denied = describeWriteError(fsError('EACCES', 'open'), '/srv/raw/manifest.json');
    expect(denied).toBeInstanceOf(LoadError);
    expect(denied).toMatchObject({ exitCode: 5, hint: 'check the directory exists and is writable' });
    expect((denied as LoadError).message).toBe('cannot write /srv/raw/manifest.json: EACCES: failed, open');
    const full = describeWriteError(fsError('ENOSPC', 'write'), '/srv/raw/2019/a.xls');
    expect((full as LoadError).message).toBe('no space left on the device holding /srv/raw/2019 (writing a.xls)');
    for (const other of [fsError('ECONNRESET', 'read'), new Error('no code'), Object.assign(new Error('x'), { syscall: 'open' }), 'a string']) {
      expect(describeWriteError(other, '/srv/x')).toBe(other);
    }
  });
});
