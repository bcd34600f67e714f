import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceIO } from '../../../src/run/steps.js';
import { createLogger } from '../../../src/core/log.js';
import type { Row, Table } from '../../../src/core/table.js';
import { ons } from '../../../src/sources/ons.js';
import type { Manifest } from '../../../src/core/raw-layer.js';
import { monthlyDeaths } from '../../../src/transform/datasets/monthly-deaths.js';
import { weeklyDeaths } from '../../../src/transform/datasets/weekly-deaths.js';
import { workbookTable } from '../../../src/transform/layout/workbook-table.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { monthlyAreas, monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { accessibleSheets, isWeeklyTotal, weeklyFiguresSheets, weeklyTotal } from '../../fixtures/ons/weekly-workbook.js';
import { readParquet } from '../../helpers/parquet.js';
import { writeWorkbook, type FixtureSheet } from '../../helpers/workbook-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-releases-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tableRows(table: Table): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const part of table.parts) for await (const row of part.rows) rows.push(row);
  return rows;
}

interface RawFile {
  edition: number;
  name: string;
  sheets: FixtureSheet[];
  lastModified: string;
}

/** Files in the raw layer as `etl extract` leaves them: <dataDir>/raw/ons/<dataset>/<edition>/<file>, listed in manifest.json. */
async function rawLayer(dataset: string, files: RawFile[]): Promise<string> {
  const dataDir = await mkdtemp(path.join(dir, 'data-'));
  const rawDir = path.join(dataDir, 'raw', 'ons', dataset);
  const manifest: Manifest = { source: 'ons', dataset, page_url: 'http://127.0.0.1/page', updated_at: '2022-01-20T00:00:00.000Z', files: [] };
  for (const file of files) {
    const relative = `${file.edition}/${file.name}`;
    await mkdir(path.join(rawDir, String(file.edition)), { recursive: true });
    await writeWorkbook(path.join(rawDir, relative), file.sheets);
    const bytes = await readFile(path.join(rawDir, relative));
    manifest.files.push({
      url: `http://127.0.0.1/${relative}`,
      edition: file.edition,
      path: relative,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      etag: null,
      last_modified: file.lastModified,
      content_type: null,
      fetched_at: '2022-01-20T00:00:00.000Z',
    });
  }
  await writeFile(path.join(rawDir, 'manifest.json'), JSON.stringify(manifest));
  return dataDir;
}

async function transformRaw(dataset: string, dataDir: string): Promise<Row[]> {
  const io = createSourceIO({ timeoutSeconds: 60, retries: 0 }, createLogger({ quiet: true }));
  try {
    return await tableRows(await ons.transform({ dataset, dataDir, options: {} }, io));
  } finally {
    await io.http.close();
  }
}

const totalsBySource = (rows: readonly Row[], edition: number): Array<[number, number | null, string]> =>
  rows.filter((r) => r.edition === edition && isWeeklyTotal(r)).map((r) => [r.week_number as number, r.deaths as number | null, r.source_file as string]);

describe('several releases of one edition in the raw layer', () => {
  const week4 = (lastModified: string): RawFile => ({ edition: 2021, name: 'publishedweek042021.xlsx', sheets: weeklyFiguresSheets({ year: 2021, headerRow: 5, publishedWeeks: 4 }), lastModified });
  // The week-52 release revised weeks 1-4 (every figure + 7), so it is clear which release a figure came from.
  const week52 = (lastModified: string): RawFile => ({ edition: 2021, name: 'publishedweek522021.xlsx', sheets: weeklyFiguresSheets({ year: 2021, headerRow: 5, revision: 7 }), lastModified });
  const edition2020: RawFile = { edition: 2020, name: 'publishedweek532020.xls', sheets: weeklyFiguresSheets({ year: 2020, weeks: 53 }), lastModified: 'Fri, 08 Jan 2021 09:30:00 GMT' };

  it('the newest release wins for every week it covers', async () => {
    const dataDir = await rawLayer('weekly-deaths', [week4('Tue, 02 Feb 2021 09:30:00 GMT'), week52('Tue, 11 Jan 2022 09:30:00 GMT'), edition2020]);
    const rows = await transformRaw('weekly-deaths', dataDir);
    expect(totalsBySource(rows, 2021)).toEqual(Array.from({ length: 52 }, (_, i) => [i + 1, weeklyTotal(2021, i + 1, 7), 'publishedweek522021.xlsx']));
    expect(totalsBySource(rows, 2020)).toHaveLength(53);
    expect(rows[0]!.edition).toBe(2020); // editions in order
  });

  it('an older file still supplies the weeks a newer one does not cover', async () => {
    // A re-issued week-4 file is the newest download, but it has figures for weeks 1-4 only.
    const dataDir = await rawLayer('weekly-deaths', [week52('Tue, 11 Jan 2022 09:30:00 GMT'), week4('Wed, 12 Jan 2022 09:30:00 GMT')]);
    const totals = totalsBySource(await transformRaw('weekly-deaths', dataDir), 2021);
    expect(totals.map(([week]) => week).sort((a, b) => a - b)).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
    for (const [week, value, source] of totals) {
      expect([value, source]).toEqual(week <= 4 ? [weeklyTotal(2021, week), 'publishedweek042021.xlsx'] : [weeklyTotal(2021, week, 7), 'publishedweek522021.xlsx']);
    }
  });

  it('monthly deaths keeps only the newest file of an edition', async () => {
    const dataDir = await rawLayer('monthly-deaths', [
      { edition: 2019, name: 'annual2019.xls', sheets: monthlySheets({ year: 2019, publishedMonths: 2 }), lastModified: 'Mon, 02 Mar 2020 09:30:00 GMT' },
      { edition: 2019, name: 'annual2019refresh.xls', sheets: monthlySheets({ year: 2019 }), lastModified: 'Mon, 05 Oct 2020 09:30:00 GMT' },
    ]);
    const rows = await transformRaw('monthly-deaths', dataDir);
    expect(new Set(rows.map((r) => r.source_file))).toEqual(new Set(['annual2019refresh.xls']));
    expect(rows.filter((r) => r.deaths === null)).toEqual([]);
  });
});

describe('weekly deaths to parquet', () => {
  it('writes both layouts into one file with the declared column types (read back with hyparquet)', async () => {
    const old = path.join(dir, 'publishedweek522021.xls');
    const accessible = path.join(dir, 'publicationfileweek522022.xlsx');
    await writeWorkbook(old, weeklyFiguresSheets({ year: 2021, labelColumns: 2 }));
    await writeWorkbook(accessible, accessibleSheets({ year: 2022 }));
    const out = path.join(dir, 'weekly.parquet');
    const summary = await writeParquet(workbookTable(weeklyDeaths, [{ file: old }, { file: accessible }]), out);
    expect(summary.parts.map((p) => p.name)).toEqual(['publishedweek522021.xls', 'publicationfileweek522022.xlsx']);

    const { columns, rows } = await readParquet(out);
    expect(columns).toEqual([
      { name: 'edition', type: 'INT32', logical: 'INT_32' },
      { name: 'week_number', type: 'INT32', logical: 'INT_32' },
      { name: 'week_ended', type: 'INT32', logical: 'DATE' },
      { name: 'measure', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'sex', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'age_band', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'area_code', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'area_name', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'label_as_printed', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'deaths', type: 'INT64', logical: 'INT_64' },
      { name: 'deaths_average', type: 'DOUBLE', logical: undefined },
      { name: 'source_file', type: 'BYTE_ARRAY', logical: 'UTF8' },
    ]);
    expect(rows).toHaveLength(summary.rows);
    const totals = rows.filter(isWeeklyTotal);
    expect(totals.map((r) => [r.edition, r.week_number, Number(r.deaths)])).toEqual([
      ...Array.from({ length: 52 }, (_, i) => [2021, i + 1, weeklyTotal(2021, i + 1)]),
      ...Array.from({ length: 52 }, (_, i) => [2022, i + 1, weeklyTotal(2022, i + 1)]),
    ]);
    expect((totals[0]!.week_ended as Date).toISOString().slice(0, 10)).toBe('2021-01-08');
    expect(rows.find((r) => r.area_name === 'North East')).toMatchObject({ label_as_printed: 'Deaths by Region of usual residence / North East', measure: 'deaths', area_code: 'E12000001', deaths: 501n });
    expect(rows.filter((r) => r.measure === 'deaths_5y_average').every((r) => r.deaths === null && typeof r.deaths_average === 'number')).toBe(true);
  });
});

describe('monthly deaths to parquet', () => {
  it('stores deaths as INT64 counts, null where not yet published (read back with hyparquet)', async () => {
    const workbook = path.join(dir, 'annual2021.xlsx');
    await writeWorkbook(workbook, monthlySheets({ year: 2021, publishedMonths: 9 }));
    const out = path.join(dir, 'monthly.parquet');
    await writeParquet(workbookTable(monthlyDeaths, [{ file: workbook }]), out);

    const { columns, rows } = await readParquet(out);
    expect(columns.find((column) => column.name === 'deaths')).toEqual({ name: 'deaths', type: 'INT64', logical: 'INT_64' });
    const englandAndWales = rows.filter((row) => row.geo_name === 'ENGLAND AND WALES').map((row) => row.deaths);
    expect(englandAndWales).toEqual(monthlyAreas(2021)[1]!.deaths.map((deaths, month) => (month < 9 ? BigInt(deaths) : null)));
  });
});

describe('dropUnpublished: only rows with a figure', () => {
  it('monthly: the months not yet published are left out; every published figure stays', async () => {
    const workbook = path.join(dir, 'partial2021.xls');
    await writeWorkbook(workbook, monthlySheets({ year: 2021, publishedMonths: 3 }));
    const all = await tableRows(workbookTable(monthlyDeaths, [{ file: workbook }]));
    const published = await tableRows(workbookTable(monthlyDeaths, [{ file: workbook }], undefined, { dropUnpublished: true }));
    expect(all.filter((r) => r.deaths === null)).toHaveLength(monthlyAreas(2021).length * 9);
    expect(published).toEqual(all.filter((r) => r.deaths !== null));
    expect(published).toHaveLength(monthlyAreas(2021).length * 3);
  });

  it('weekly, two releases of an edition: each week from its newest release with a figure, no row without one (averages kept)', async () => {
    const dataDir = await rawLayer('weekly-deaths', [
      { edition: 2021, name: 'publishedweek042021.xlsx', sheets: weeklyFiguresSheets({ year: 2021, headerRow: 5, publishedWeeks: 4 }), lastModified: 'Tue, 02 Feb 2021 09:30:00 GMT' },
      { edition: 2021, name: 'publishedweek082021.xlsx', sheets: weeklyFiguresSheets({ year: 2021, headerRow: 5, publishedWeeks: 8, revision: 7 }), lastModified: 'Tue, 02 Mar 2021 09:30:00 GMT' },
    ]);
    const io = createSourceIO({ timeoutSeconds: 60, retries: 0 }, createLogger({ quiet: true }));
    const rows = await tableRows(await ons.transform({ dataset: 'weekly-deaths', dataDir, options: { dropUnpublished: true } }, io)).finally(() => io.http.close());
    expect(rows.filter((r) => r.deaths === null && r.deaths_average === null)).toEqual([]);
    expect(totalsBySource(rows, 2021)).toEqual(Array.from({ length: 8 }, (_, i) => [i + 1, weeklyTotal(2021, i + 1, 7), 'publishedweek082021.xlsx']));
    expect(rows.filter((r) => r.measure === 'deaths_5y_average')).toHaveLength(8);
  });
});
