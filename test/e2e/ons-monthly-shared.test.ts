import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { monthlyDeaths } from '../../src/transform/datasets/monthly-deaths.js';
import { weeklyDeaths } from '../../src/transform/datasets/weekly-deaths.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { readParquet, type ParquetContents } from '../helpers/parquet.js';
import { runCli } from '../helpers/run-cli.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';
import { readRows } from '../helpers/workbook-rows.js';

/**
 * The real ONS monthly workbooks (../shared/data/ons-monthly, published .xls files nobody here wrote),
 * served from a local copy of the dataset page and run through the CLI. Expected figures are read
 * straight from each workbook with SheetJS, not through the engine under test.
 */
interface Expected {
  edition: number;
  englandAndWales: Array<number | null>;
  rowsWithFigure: number;
}

function expectedFrom(bytes: Buffer): Expected {
  const workbook = XLSX.read(bytes, {});
  const sheetName = workbook.SheetNames.find((name) => /^Figures for \d{4}$/.test(name.trim()))!;
  const grid = XLSX.utils.sheet_to_json<unknown[]>(workbook.Sheets[sheetName]!, { header: 1, raw: true, defval: null });
  // Per SOURCES.md: header at Excel row 4, names in column B, twelve months from column C.
  const body = grid.slice(4);
  const months = (row: unknown[]) => row.slice(2, 14).map((v) => (typeof v === 'number' ? v : null));
  const englandAndWales = body.find((row) => String(row[1] ?? '').trim() === 'ENGLAND AND WALES')!;
  return {
    edition: Number(/\d{4}/.exec(sheetName)![0]),
    englandAndWales: months(englandAndWales),
    rowsWithFigure: body.filter((row) => months(row).some((v) => v !== null)).length,
  };
}

describe.skipIf(!hasSharedData)('real ONS monthly workbooks, end to end', () => {
  let server: FileServer;
  let work: string;
  let parquet: ParquetContents;
  const workbooks: Array<{ file: string; edition: number; expected: Expected }> = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-shared-'));
    const dir = sharedFile('ons-monthly');
    const names = (await readdir(dir)).filter((name) => name.endsWith('.xls')).sort();
    const files: Record<string, { body: Buffer; contentType?: string }> = {};
    const links = [];
    for (const name of names) {
      const bytes = await readFile(path.join(dir, name));
      const expected = expectedFrom(bytes);
      workbooks.push({ file: name, edition: expected.edition, expected });
      const href = onsFileHref(MONTHLY_DATASET_PATH, String(expected.edition), name);
      files[href] = { body: bytes };
      links.push({ heading: String(expected.edition), href });
    }
    files['/monthly'] = { body: Buffer.from(datasetPage('Monthly figures on deaths registered by area of usual residence', links)), contentType: 'text/html' };
    server = await startFileServer(files);

    const dataDir = path.join(work, 'data');
    const extracted = await runCli(['extract', 'ons', '--url', `${server.url}/monthly`, '--data-dir', dataDir]);
    expect(extracted.code, extracted.stderr).toBe(0);
    const out = path.join(work, 'deaths.parquet');
    const transformed = await runCli(['transform', 'ons', 'monthly-deaths', '--data-dir', dataDir, '--out', out]);
    expect(transformed.code, transformed.stderr).toBe(0);
    parquet = await readParquet(out);
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('has four editions, 2015 to 2020', () => {
    expect(workbooks.map((w) => w.edition)).toEqual([2015, 2017, 2019, 2020]);
    expect(new Set(parquet.rows.map((r) => r.edition))).toEqual(new Set([2015, 2017, 2019, 2020]));
  });

  it('England and Wales equals the workbook for all twelve months of every edition', () => {
    for (const { edition, expected, file } of workbooks) {
      const rows = parquet.rows.filter((r) => r.edition === edition && r.geo_name === 'ENGLAND AND WALES');
      expect(rows.map((r) => (r.deaths === null ? null : Number(r.deaths))), file).toEqual(expected.englandAndWales);
      expect(rows.map((r) => r.geo_code)).toEqual(Array(12).fill('K04000001'));
      expect(rows.map((r) => (r.period as Date).toISOString().slice(0, 10))).toEqual(
        Array.from({ length: 12 }, (_, m) => `${edition}-${String(m + 1).padStart(2, '0')}-01`),
      );
    }
  });

  it('has twelve rows for every area row that carries a figure, and nothing else', () => {
    for (const { edition, expected, file } of workbooks) {
      const rows = parquet.rows.filter((r) => r.edition === edition);
      expect(rows.length, file).toBe(expected.rowsWithFigure * 12);
      expect(new Set(rows.map((r) => r.source_file))).toEqual(new Set([file]));
    }
  });

  it('cleans names and keeps codes as printed', () => {
    const names = new Set(parquet.rows.map((r) => r.geo_name as string));
    expect(names).toContain('ENGLAND, WALES AND ELSEWHERE');
    expect(names).toContain('Non-residents of England & Wales');
    expect([...names].filter((n) => /\d$|^\s|\s$|Footnote|Source/.test(n))).toEqual([]);
    // The combined cell `K04000001, J99000001` is split: the first code, the rest in geo_code_extra.
    const codes = new Set(parquet.rows.map((r) => r.geo_code));
    expect([...codes].filter((c) => c !== null && !/^[A-Z]\d{8}$/.test(c as string))).toEqual([]);
    const combined = parquet.rows.filter((r) => r.geo_code_extra !== null);
    expect(new Set(combined.map((r) => `${r.geo_code} + ${r.geo_code_extra}: ${r.geo_name}`))).toEqual(new Set(['K04000001 + J99000001: ENGLAND, WALES AND ELSEWHERE']));
  });

  it('geo_level: countries sum to England and Wales for every edition and month, no duplicates, every level from the vocabulary', () => {
    const levels = monthlyDeaths.rowRules!.classify![0]!.values;
    expect(new Set(parquet.rows.map((r) => r.geo_level))).toEqual(new Set(levels));
    let months = 0;
    for (const { edition, file } of workbooks) {
      for (let month = 0; month < 12; month++) {
        const rows = parquet.rows.filter((r) => r.edition === edition && (r.period as Date).getUTCMonth() === month);
        const englandAndWales = rows.find((r) => r.geo_name === 'ENGLAND AND WALES')!.deaths;
        const countries = rows.filter((r) => r.geo_level === 'country');
        expect(countries.map((r) => r.geo_name).sort(), file).toEqual(['ENGLAND', 'WALES']);
        const sum = countries.some((r) => r.deaths === null) ? null : countries.reduce((total, r) => total + BigInt(r.deaths as bigint), 0n);
        expect(sum, `${file} month ${month + 1}`).toEqual(englandAndWales === null ? null : BigInt(englandAndWales as bigint));
        if (sum !== null) months++;
      }
    }
    expect(months).toBe(12 * 3 + 2); // 2020 is the February release
    const keys = parquet.rows.map((r) => [r.edition, (r.period as Date).toISOString(), r.geo_level, r.geo_code, r.geo_name].join('|'));
    expect(new Set(keys).size).toBe(keys.length);
    // Regions with a GSS code are E12; the counts a reader sums per level are those the codes say.
    expect(parquet.rows.filter((r) => r.geo_level === 'region').every((r) => String(r.geo_code).startsWith('E12'))).toBe(true);
  });

  it('every edition and month: one total row (England and Wales), the combined row its own level; (edition, period, geo_level, geo_code) is a key', () => {
    const counted = (level: string, edition: number, month: number) => parquet.rows.filter((r) => r.edition === edition && (r.period as Date).getUTCMonth() === month && r.geo_level === level);
    const sum = (rows: Array<Record<string, unknown>>): bigint | null => (rows.some((r) => r.deaths === null) ? null : rows.reduce((total, r) => total + BigInt(r.deaths as bigint), 0n));
    for (const { edition, file } of workbooks) {
      for (let month = 0; month < 12; month++) {
        const [total, ...more] = counted('total', edition, month);
        expect(more, `${file} month ${month + 1}`).toEqual([]);
        expect(total).toMatchObject({ geo_code: 'K04000001', geo_code_extra: null, geo_name: 'ENGLAND AND WALES', area_name: 'England and Wales' });
        const [combined, ...others] = counted('total_incl_non_residents', edition, month);
        expect(others).toEqual([]);
        expect(combined).toMatchObject({ geo_code: 'K04000001', geo_code_extra: 'J99000001', area_name: 'England, Wales and elsewhere' });
        // Each level sums to its own meaning: the combined row is England and Wales plus the non-residents.
        const totals = sum([total!, ...counted('non_resident', edition, month)]);
        expect(combined!.deaths === null ? null : BigInt(combined!.deaths as bigint), `${file} month ${month + 1}`).toEqual(totals);
      }
    }
    const keys = parquet.rows.map((r) => [r.edition, (r.period as Date).toISOString(), r.geo_level, r.geo_code].join('|'));
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
  });

  it('area_name names areas as weekly-deaths does (EAST is East of England); geo_name keeps the printed name', async () => {
    const weekly = await readRows({ file: sharedFile('ons-weekly', '2019Mortality.xls') }, weeklyDeaths);
    const weeklyRegions = new Set(weekly.filter((r) => String(r.area_code).startsWith('E12')).map((r) => r.area_name));
    const regions = parquet.rows.filter((r) => r.geo_level === 'region');
    expect(new Set(regions.map((r) => r.area_name))).toEqual(weeklyRegions);
    expect(new Set(regions.filter((r) => r.geo_name === 'EAST').map((r) => r.area_name))).toEqual(new Set(['East of England']));
    const countries = new Set(parquet.rows.filter((r) => r.geo_level === 'country' || r.geo_level === 'total').map((r) => r.area_name));
    expect(countries).toEqual(new Set(['England and Wales', 'England', 'Wales']));
    for (const name of weekly.filter((r) => /^(K04|E92|W92)/.test(String(r.area_code))).map((r) => r.area_name)) expect(countries).toContain(name);
    // Counties and local authorities keep their printed name.
    expect(parquet.rows.filter((r) => ['county', 'local_authority'].includes(r.geo_level as string) && r.area_name !== r.geo_name)).toEqual([]);
  });

  it('--drop-unpublished leaves out the months not yet published (2020, a February release) and nothing else', async () => {
    const out = path.join(work, 'published.parquet');
    const result = await runCli(['transform', 'ons', '--input', sharedFile('ons-monthly', 'Monthly2020Mortality.xls'), '--drop-unpublished', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const published = await readParquet(out);
    const all = parquet.rows.filter((r) => r.edition === 2020);
    expect(published.rows.length).toBeLessThan(all.length);
    expect(published.rows).toEqual(all.filter((r) => r.deaths !== null));
    expect(new Set(published.rows.map((r) => (r.period as Date).getUTCMonth()))).toEqual(new Set([0, 1]));
  });

  it('reads a directory of workbooks with no network (--input DIR) to the same rows', async () => {
    const out = path.join(work, 'offline.parquet');
    const result = await runCli(['transform', 'ons', '--input', sharedFile('ons-monthly'), '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const offline = await readParquet(out);
    expect(offline.rows).toEqual(parquet.rows);
  });

  it('leaves the 2020 months not yet published as nulls', () => {
    const rows = parquet.rows.filter((r) => r.edition === 2020 && r.geo_name === 'ENGLAND');
    expect(rows.filter((r) => r.deaths !== null)).toHaveLength(2);
  });
});
