import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepDeadTempFiles, tempPathFor, withAtomicFile } from '../../src/core/atomic-file.js';

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
      live: path.join(folder, `.etl-tmp-${live.pid}-a1b2c3d4e5f6-deaths.parquet`),
      output: path.join(folder, 'deaths.parquet'),
    };
    for (const file of Object.values(files)) await writeFile(file, 'x');
    try {
      expect((await sweepDeadTempFiles(folder)).sort()).toEqual([files.dead, files.deadScratch, files.olderEtl].sort());
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
});
