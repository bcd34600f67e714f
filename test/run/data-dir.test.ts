import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../src/core/errors.js';
import { listExtractedDatasets, onlyExtractedDataset, recordedUploads, recordTransform, stateDir, type TransformRecord } from '../../src/run/data-dir.js';

/**
 * What the data dir remembers between commands (src/run/data-dir.ts), in-process so that Stryker sees its mutants:
 * `etl transform` with no dataset picks the one extracted, and `etl load` with no files uploads what the last
 * transform wrote, each file checked against the record first. The CLI forms are in test/load/load-command.test.ts.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-data-dir-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

let count = 0;
async function fresh(): Promise<string> {
  const dir = path.join(work, `data-${++count}`);
  await mkdir(dir);
  return dir;
}
async function extracted(dir: string, source: string, dataset: string, manifest = true): Promise<void> {
  await mkdir(path.join(dir, 'raw', source, dataset), { recursive: true });
  if (manifest) await writeFile(path.join(dir, 'raw', source, dataset, 'manifest.json'), '{}');
}
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const HINT = 'run `etl transform` again (same --data-dir), or name the files to upload: etl load <file>… --bucket …';

describe('the extracted datasets', () => {
  it('lists <source>/<dataset> folders holding a manifest, in name order; anything else under raw/ is not a dataset', async () => {
    const dir = await fresh();
    expect(await listExtractedDatasets(dir)).toEqual([]);
    await extracted(dir, 'ons', 'weekly-deaths');
    await extracted(dir, 'ons', 'monthly-deaths');
    await extracted(dir, 'climatempo', 'forecast');
    await extracted(dir, 'ons', 'no-manifest', false);
    await extracted(dir, '.hidden', 'x');
    await extracted(dir, 'ons', 'has space');
    await writeFile(path.join(dir, 'raw', 'ons', 'a-file'), '');
    expect(await listExtractedDatasets(dir)).toEqual([
      { source: 'climatempo', dataset: 'forecast' },
      { source: 'ons', dataset: 'monthly-deaths' },
      { source: 'ons', dataset: 'weekly-deaths' },
    ]);
  });

  it('the one dataset extracted; none or several is a usage error naming them', async () => {
    const dir = await fresh();
    const none = await onlyExtractedDataset(dir).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ConfigError);
    expect((none as Error).message).toBe(`nothing extracted in ${path.join(dir, 'raw')}`);
    expect((none as ConfigError).hint).toBe('run `etl extract <source>` first (same --data-dir), or name the source and pass --input');

    await extracted(dir, 'ons', 'monthly-deaths');
    expect(await onlyExtractedDataset(dir)).toEqual({ source: 'ons', dataset: 'monthly-deaths' });
    await extracted(dir, 'randomperson', 'people');
    await extracted(dir, 'ons', 'weekly-deaths');
    const several = await onlyExtractedDataset(dir).catch((e: unknown) => e);
    expect((several as Error).message).toBe(`${dir} holds several extracted datasets: ons monthly-deaths, ons weekly-deaths, randomperson people`);
    expect((several as ConfigError).hint).toBe('name one, e.g. `etl transform ons monthly-deaths`');
    // Naming the source narrows it.
    expect(await onlyExtractedDataset(dir, 'randomperson')).toEqual({ source: 'randomperson', dataset: 'people' });
    await expect(onlyExtractedDataset(dir, 'climatempo')).rejects.toThrow(`nothing extracted in ${path.join(dir, 'raw')}`);
  });
});

describe('recordedUploads: what the last transform wrote, checked before anything is sent', () => {
  async function transformed(): Promise<{ dir: string; file: string; record: TransformRecord }> {
    const dir = await fresh();
    const file = path.join(dir, 'processed', 'ons', 'monthly-deaths.parquet');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'parquet bytes');
    const record: TransformRecord = { source: 'ons', dataset: 'monthly-deaths', output: file, files: [{ path: file, sha256: sha('parquet bytes'), bytes: 13 }], written_at: 'then' };
    await recordTransform(dir, record);
    return { dir, file, record };
  }

  it('one file: its name and digest; a partitioned folder: names below it, and the file uploaded last', async () => {
    const { dir, file } = await transformed();
    expect(await recordedUploads(dir)).toEqual({ files: [{ path: file, name: 'monthly-deaths.parquet', sha256: sha('parquet bytes') }] });

    const folder = path.join(dir, 'processed', 'ons', 'weekly');
    await mkdir(path.join(folder, 'year=2020'), { recursive: true });
    await writeFile(path.join(folder, 'year=2020', 'part-0.parquet'), 'a');
    await writeFile(path.join(folder, '_manifest.json'), 'bb');
    await recordTransform(dir, {
      source: 'ons',
      dataset: 'weekly',
      output: folder,
      files: [
        { path: path.join(folder, 'year=2020', 'part-0.parquet'), sha256: sha('a'), bytes: 1 },
        { path: path.join(folder, '_manifest.json'), sha256: sha('bb'), bytes: 2 },
      ],
      last: '_manifest.json',
      written_at: 'then',
    });
    expect(await recordedUploads(dir)).toEqual({
      files: [
        { path: path.join(folder, 'year=2020', 'part-0.parquet'), name: 'year=2020/part-0.parquet', sha256: sha('a') },
        { path: path.join(folder, '_manifest.json'), name: '_manifest.json', sha256: sha('bb') },
      ],
      last: '_manifest.json',
    });
  });

  it('no record: a usage error saying what to do', async () => {
    const dir = await fresh();
    const error = await recordedUploads(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`no files given and no transform recorded in ${dir}`);
    expect((error as ConfigError).hint).toBe('give files or directories to upload, or run `etl transform` first (same --data-dir)');
  });

  it.each([
    ['not JSON', '{', 'is damaged: not JSON'],
    ['null', 'null', ': expected an output and a files list (it was written by an older etl, or damaged)'],
    ['no output', JSON.stringify({ files: [{}] }), ': expected an output and a files list'],
    ['files not a list', JSON.stringify({ output: 'x', files: {} }), ': expected an output and a files list'],
    ['no files', JSON.stringify({ output: 'x', files: [] }), ': expected an output and a files list'],
  ])('a damaged record (%s) is a data error naming it', async (_what, text, problem) => {
    const dir = await fresh();
    await mkdir(stateDir(dir));
    await writeFile(path.join(stateDir(dir), 'last-transform.json'), text);
    const error = await recordedUploads(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toContain(`${path.join(stateDir(dir), 'last-transform.json')}${problem.startsWith(':') ? '' : ' '}${problem}`);
    expect((error as DataError).hint).toBe(HINT);
  });

  it('a file changed since, a path that is not the output, or one that is not a path: refused, nothing returned', async () => {
    const { dir, file, record } = await transformed();
    const recordFile = path.join(stateDir(dir), 'last-transform.json');
    await writeFile(file, 'PARQUET BYTES');
    await expect(recordedUploads(dir)).rejects.toThrow(`${recordFile}: files[0].path ${JSON.stringify(file)} does not hold the recorded bytes`);

    await writeFile(file, 'parquet bytes');
    const other = path.join(path.dirname(file), 'other.parquet');
    await writeFile(other, 'parquet bytes');
    await recordTransform(dir, { ...record, files: [{ ...record.files[0]!, path: other }] });
    const notOutput = await recordedUploads(dir).catch((e: unknown) => e);
    expect((notOutput as Error).message).toBe(`${recordFile}: files[0].path ${JSON.stringify(other)} is not the output the record names`);
    expect((notOutput as DataError).hint).toBe(HINT);

    for (const entry of [{ ...record.files[0]!, path: 5 }, null]) {
      await recordTransform(dir, { ...record, files: [entry as unknown as TransformRecord['files'][number]] });
      const notPath = await recordedUploads(dir).catch((e: unknown) => e);
      expect(notPath).toBeInstanceOf(DataError);
      expect((notPath as Error).message).toBe(`${recordFile}: files[0].path is not a path`);
      expect((notPath as DataError).hint).toBe(HINT);
    }
  });

  it('an output outside the data dir, or a file outside the output folder (a symlink out), is refused', async () => {
    const { dir, record } = await transformed();
    const recordFile = path.join(stateDir(dir), 'last-transform.json');
    const outside = path.join(work, `outside-${count}.parquet`);
    await writeFile(outside, 'parquet bytes');
    await recordTransform(dir, { ...record, output: outside, files: [{ ...record.files[0]!, path: outside }] });
    await expect(recordedUploads(dir)).rejects.toThrow(`${recordFile}: output ${JSON.stringify(outside)} lies outside ${dir}`);

    const folder = path.join(dir, 'processed', 'ons', 'parts');
    await mkdir(folder, { recursive: true });
    await symlink(outside, path.join(folder, 'part.parquet'));
    await recordTransform(dir, { ...record, output: folder, files: [{ ...record.files[0]!, path: path.join(folder, 'part.parquet') }] });
    await expect(recordedUploads(dir)).rejects.toThrow(`${recordFile}: files[0].path ${JSON.stringify(path.join(folder, 'part.parquet'))} lies outside ${folder}`);
  });
});
