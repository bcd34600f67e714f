import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsCommand } from '../../src/commands/datasets.js';
import { inspectCommand } from '../../src/commands/inspect.js';
import { ConfigError, DataError } from '../../src/core/errors.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { weeklyFiguresSheets } from '../fixtures/ons/weekly-workbook.js';
import { runInProcess } from '../helpers/command-in-process.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * `etl inspect` and `etl datasets` through their commands (src/commands/inspect.ts, datasets.ts), in-process: the lines
 * a user reads to fix a declaration. test/commands/datasets-inspect.test.ts holds more of the same through main().
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-inspect-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('etl inspect in-process', () => {
  it('periods across columns: the id columns, how many periods, the first and last with their cells', async () => {
    const file = path.join(dir, 'weekly-2019.xls');
    await writeWorkbook(file, weeklyFiguresSheets({ year: 2019 }));
    const { stdout, error } = await runInProcess(inspectCommand, [file, '--dataset', 'weekly-deaths']);
    expect(error).toBeUndefined();
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^weekly-2019\.xls: \d+ sheets: "/);
    expect(lines[1]).toMatch(/^weekly-deaths: table on sheet "Weekly figures 2019" \(layout "weeks across \(2010-2021\)"\), edition 2019, header row \d+$/);
    expect(lines[2]).toBe('  id columns A; periods across 52 columns: B4 "1" = week 1 2019-01-04 … BA4 "52" = week 52 2019-12-27');
    expect(lines).toContain('  layout "weeks down (2022 on)" did not match: no sheet name matches /^\\s*1\\s*$/i');
    expect(lines).toContain('  row labels -> canonical values:');
  });

  it('--json: the sheets and each dataset\'s detection; a workbook no dataset reads is a data error after the listing', async () => {
    const file = path.join(dir, 'monthly-2019.xls');
    await writeWorkbook(file, monthlySheets({ year: 2019 }));
    const { stdout, error } = await runInProcess(inspectCommand, [file], { json: true });
    expect(error).toBeUndefined();
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ command: 'inspect', file, kind: 'workbook' });
    expect(result.detections.map((d: { dataset: string; failed?: string }) => [d.dataset, d.failed ?? 'found'])).toEqual([
      ['monthly-deaths', 'found'],
      ['weekly-deaths', 'no layout matches'],
    ]);

    const moved = path.join(dir, 'moved.xls');
    await writeWorkbook(moved, weeklyFiguresSheets({ year: 2021, headerRow: 30 }));
    const failed = await runInProcess(inspectCommand, [moved]);
    expect(failed.error).toBeInstanceOf(DataError);
    expect((failed.error as Error).message).toBe('moved.xls: no declared layout matches (monthly-deaths, weekly-deaths)');
    expect((failed.error as DataError).hint).toBe('the rules that failed are listed above; adjust the declaration or write one with --dataset-file');
    expect(failed.stdout).toContain('weekly-deaths: no layout matches\n');
  });

  it('a file that cannot be opened, or a folder, is a usage error; a file that is no workbook is the reader\'s error', async () => {
    const missing = await runInProcess(inspectCommand, [path.join(dir, 'nope.xlsx')]);
    expect(missing.error).toBeInstanceOf(ConfigError);
    expect((missing.error as Error).message).toMatch(new RegExp(`^${path.join(dir, 'nope.xlsx').replace(/[.]/g, '\\.')}: cannot open \\(ENOENT`));
    expect((missing.error as ConfigError).hint).toBe('check the path');
    const folder = path.join(dir, 'folder');
    await mkdir(folder);
    const isFolder = await runInProcess(inspectCommand, [folder]);
    expect(isFolder.error).toBeInstanceOf(ConfigError);
    expect((isFolder.error as Error).message).toBe(`${folder} is a directory`);
    // Three bytes: too short to be parquet, left to the workbook reader.
    const short = path.join(dir, 'PAR');
    await writeFile(short, 'PAR');
    const tooShort = await runInProcess(inspectCommand, [short]);
    expect(tooShort.error).toBeInstanceOf(DataError);
    expect(tooShort.stdout).toBe('');
  });

  it('--rows takes a whole number of 1 or more', async () => {
    const { error } = await runInProcess(inspectCommand, ['x.parquet', '--rows', '0']);
    expect((error as Error).message).toMatch(/expected a whole number of 1 or more/);
  });
});

describe('etl datasets in-process', () => {
  it('the text lists ONS datasets with version, page, releases, layouts and columns; the other sources with their env', async () => {
    const { stdout, error } = await runInProcess(datasetsCommand, []);
    expect(error).toBeUndefined();
    const monthly = stdout.split('\n\n')[0]!.split('\n');
    const { monthlyDeaths } = await import('../../src/transform/datasets/monthly-deaths.js');
    expect(monthly[0]).toBe(`ons monthly-deaths: ${monthlyDeaths.title}`);
    expect(monthly[2]).toBe(`  page:     ${monthlyDeaths.pageUrl}`);
    expect(monthly[1]).toMatch(/^ {2}version: {2}\d+$/);
    expect(monthly[2]).toMatch(/^ {2}page: {5}https:\/\//);
    expect(monthly[3]).toMatch(/^ {2}releases: \S+$/);
    expect(monthly[4]).toMatch(/^ {2}layouts: {2}"[^"]+": sheet \/.+\/i, header in rows 1-\d+, periods across columns: /);
    expect(stdout).toContain('(also read with "');
    expect(stdout).toMatch(/periods down rows: .+; \d+ value columns/);
    expect(stdout).toContain('random-person people: ');
    expect(stdout).toContain('  env:      RANDOM_PERSON_BASE_URL\n');
  });

  it('--dataset-file: the declaration as the engine reads it', async () => {
    const file = path.join(dir, 'mine.json');
    const { weeklyDeaths } = await import('../../src/transform/datasets/weekly-deaths.js');
    await writeFile(file, JSON.stringify({ ...weeklyDeaths, name: 'mine', title: 'Mine' }));
    const { stdout, error } = await runInProcess(datasetsCommand, ['--dataset-file', file], { json: true });
    expect(error).toBeUndefined();
    expect(JSON.parse(stdout)).toMatchObject({ command: 'datasets', source: 'ons', datasets: [{ name: 'mine', title: 'Mine' }] });
    const text = await runInProcess(datasetsCommand, ['--dataset-file', file]);
    expect(text.stdout.split('\n')[0]).toBe('ons mine: Mine');
  });
});
