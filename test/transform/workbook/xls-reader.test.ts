import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readXls, readXlsWithSheetJs } from '../../../src/transform/workbook/xls-reader.js';
import type { Cell, Sheet } from '../../../src/transform/workbook/workbook.js';
import { monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { hasSharedData, sharedDataDir } from '../../helpers/shared-data.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';
import { rewriteBiff, toSharedStrings } from '../../helpers/biff.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-xls-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ReadSheet {
  name: string;
  rows: Array<{ rowNumber: number; cells: Cell[] }>;
}

/** Rows with a value, without trailing empty cells: SheetJS keeps rows and cells that hold only formatting. */
async function readAll(sheets: AsyncIterable<Sheet>): Promise<ReadSheet[]> {
  const read: ReadSheet[] = [];
  for await (const sheet of sheets) {
    const rows: ReadSheet['rows'] = [];
    for await (const row of sheet.rows()) {
      const cells = [...row.cells];
      while (cells.length > 0 && cells.at(-1) === null) cells.pop();
      if (cells.length > 0) rows.push({ rowNumber: row.rowNumber, cells });
    }
    read.push({ name: sheet.name, rows });
  }
  return read;
}

function sheetJsWorkbook(file: string, bookType: 'biff8' | 'biff5', rows: unknown[][]): Promise<void> {
  const workbook = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows, { cellDates: true }), 'Cells');
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([['second sheet']]), 'Second & last');
  return writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType }) as Buffer);
}

const KINDS = [
  ['text', 'ünïcødé 😀 & <tags>', '  padded  ', '00123'],
  [1, -2.5, 123456789012, 0.1 + 0.2, 1e-7, -1e300],
  [true, false, null, ''],
  [new Date(Date.UTC(2020, 0, 31)), new Date(Date.UTC(1999, 11, 31))],
  [],
  ['after an empty row', null, null, 'far right'],
];

describe('the .xls reader gives exactly the cells SheetJS gives', () => {
  it('on generated workbooks and on every real .xls in ../shared/data', async () => {
    const files: string[] = [];
    for (const shape of [{ year: 2006, nameLevels: 3, headerRow: 3 }, { year: 2012, codes: false }, { year: 2019, label: (m: string, y: string) => `${m}-${y}3` }, { year: 2020, publishedMonths: 2 }]) {
      const file = path.join(dir, `monthly-${shape.year}.xls`);
      await writeWorkbook(file, monthlySheets(shape));
      files.push(file);
    }
    const kinds = path.join(dir, 'kinds.xls');
    await sheetJsWorkbook(kinds, 'biff8', KINDS);
    files.push(kinds);
    if (hasSharedData) {
      const shared = (await readdir(sharedDataDir, { recursive: true })).filter((name) => name.endsWith('.xls'));
      files.push(...shared.map((name) => path.join(sharedDataDir, name)));
    }
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      expect({ file: path.basename(file), sheets: await readAll(readXls(file)) }).toEqual({ file: path.basename(file), sheets: await readAll(readXlsWithSheetJs(file)) });
    }
  });

  it('reads every kind of cell as the .xlsx reader would', async () => {
    const file = path.join(dir, 'kinds-values.xls');
    await sheetJsWorkbook(file, 'biff8', KINDS);
    const [cells, second] = await readAll(readXls(file));
    expect(cells!.rows).toEqual([
      { rowNumber: 1, cells: ['text', 'ünïcødé 😀 & <tags>', '  padded  ', '00123'] },
      { rowNumber: 2, cells: [1, -2.5, 123456789012, 0.1 + 0.2, 1e-7, -1e300] },
      { rowNumber: 3, cells: [true, false] },
      { rowNumber: 4, cells: [new Date(Date.UTC(2020, 0, 31)), new Date(Date.UTC(1999, 11, 31))] },
      { rowNumber: 6, cells: ['after an empty row', null, null, 'far right'] },
    ]);
    expect(second).toEqual({ name: 'Second & last', rows: [{ rowNumber: 1, cells: ['second sheet'] }] });
  });

  it('reads the cached results of formulas: number, string (in the STRING record after it), boolean, error', async () => {
    // SheetJS writes values only, so its NUMBER records in columns C-F become FORMULA records here.
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([[2, 'x', 4, 5, 6, 7]]), 'Formulas');
    const container = XLSX.CFB.read(XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }), { type: 'buffer' });
    const entry = XLSX.CFB.find(container, 'Workbook') as { content: Buffer; size: number };
    const record = (type: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([type & 0xff, type >> 8, body.length & 0xff, body.length >> 8]), body]);
    const formula = (cell: Buffer, result: Buffer): Buffer => record(0x0006, Buffer.concat([cell.subarray(4, 10), result, Buffer.alloc(8)]));
    const special = (kind: number, value: number): Buffer => Buffer.from([kind, 0, value, 0, 0, 0, 0xff, 0xff]);
    const stream = Buffer.from(entry.content);
    const records: Buffer[] = [];
    for (let at = 0; at + 4 <= stream.length; at += 4 + stream.readUInt16LE(at + 2)) {
      const current = stream.subarray(at, at + 4 + stream.readUInt16LE(at + 2));
      const column = current.readUInt16LE(0) === 0x0203 ? current.readUInt16LE(6) : -1;
      const number = Buffer.alloc(8);
      number.writeDoubleLE(8.5);
      if (column === 2) records.push(formula(current, number));
      else if (column === 3) records.push(formula(current, special(0, 0)), record(0x0207, Buffer.concat([Buffer.from([11, 0, 0]), Buffer.from('text result', 'latin1')])));
      else if (column === 4) records.push(formula(current, special(1, 1)));
      else if (column === 5) records.push(formula(current, special(2, 0x07)));
      else records.push(current);
    }
    entry.content = Buffer.concat(records);
    entry.size = entry.content.length;
    const file = path.join(dir, 'formulas.xls');
    await writeFile(file, XLSX.CFB.write(container, { type: 'buffer' }) as Buffer);
    const expected = [{ name: 'Formulas', rows: [{ rowNumber: 1, cells: [2, 'x', 8.5, 'text result', true] }] }];
    expect(await readAll(readXls(file))).toEqual(expected);
    expect(await readAll(readXlsWithSheetJs(file))).toEqual(expected);
  });

  it('reads Excel 5/95 (BIFF5) workbooks through SheetJS', async () => {
    const file = path.join(dir, 'biff5.xls');
    await sheetJsWorkbook(file, 'biff5', [['old', 1.5], [null, 'format']]);
    const [cells] = await readAll(readXls(file));
    expect(cells).toEqual({ name: 'Cells', rows: [{ rowNumber: 1, cells: ['old', 1.5] }, { rowNumber: 2, cells: [null, 'format'] }] });
  });
});

describe('the .xls reader on what Excel writes beyond SheetJS', () => {
  const NUMBER = 0x0203;
  const BOF = 0x0809;
  const EOF = 0x000a;
  const BOUNDSHEET = 0x0085;

  async function sheetJs(name: string, sheets: Array<[string, XLSX.WorkSheet]>, date1904 = false): Promise<string> {
    const workbook = XLSX.utils.book_new();
    for (const [sheetName, sheet] of sheets) XLSX.utils.book_append_sheet(workbook, sheet, sheetName);
    if (date1904) workbook.Workbook = { WBProps: { date1904: true } };
    const file = path.join(dir, name);
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }) as Buffer);
    return file;
  }

  it('reads dates of a 1904 workbook, booleans, and an error cell as null', async () => {
    const sheet = XLSX.utils.aoa_to_sheet([[new Date(Date.UTC(2020, 0, 31)), true, false]], { cellDates: true });
    sheet['D1'] = { t: 'e', v: 0x07 };
    sheet['!ref'] = 'A1:D1';
    const file = await sheetJs('dates-1904.xls', [['Figures', sheet]], true);
    const expected = [{ name: 'Figures', rows: [{ rowNumber: 1, cells: [new Date(Date.UTC(2020, 0, 31)), true, false] }] }];
    expect(await readAll(readXls(file))).toEqual(expected);
    expect(await readAll(readXlsWithSheetJs(file))).toEqual(expected);
  });

  it('lists worksheets only (a chart sheet holds no cells), and skips an embedded chart inside a sheet', async () => {
    const file = await sheetJs('charts.xls', [['Figures', XLSX.utils.aoa_to_sheet([[1, 2]])], ['Chart', XLSX.utils.aoa_to_sheet([['x']])]]);
    const chartBof = Buffer.from([0x00, 0x06, 0x20, 0x00, 0x62, 0x72, 0xcd, 0x07, 0xc9, 0x00, 0x01, 0x00, 0x06, 0x07, 0x00, 0x00]);
    // A NUMBER record inside the chart's substream: a series value, not a cell of the sheet.
    const seriesValue = Buffer.alloc(14);
    seriesValue.writeUInt16LE(0, 0);
    seriesValue.writeUInt16LE(5, 2);
    seriesValue.writeDoubleLE(99, 6);
    let boundSheets = 0;
    let bofs = 0;
    await rewriteBiff(file, (records) => records.flatMap((record) => {
      if (record.type === BOUNDSHEET && ++boundSheets === 2) record.body[5] = 0x02; // the second sheet becomes a chart sheet
      if (record.type === BOF && ++bofs === 2) return [record, { type: BOF, body: chartBof }, { type: BOF, body: chartBof }, { type: NUMBER, body: seriesValue }, { type: EOF, body: Buffer.alloc(0) }, { type: EOF, body: Buffer.alloc(0) }];
      return [record];
    }));
    expect(await readAll(readXls(file))).toEqual([{ name: 'Figures', rows: [{ rowNumber: 1, cells: [1, 2] }] }]);
  });

  it('reads shared strings (LABELSST), and names the row of one pointing past the table', async () => {
    const file = await sheetJs('sst.xls', [['Figures', XLSX.utils.aoa_to_sheet([['Area', 'Deaths'], ['ENGLAND', 40000]])]]);
    await rewriteBiff(file, toSharedStrings);
    expect(await readAll(readXls(file))).toEqual([{ name: 'Figures', rows: [{ rowNumber: 1, cells: ['Area', 'Deaths'] }, { rowNumber: 2, cells: ['ENGLAND', 40000] }] }]);
    await rewriteBiff(file, (records) => records.map((record) => (record.type === 0x00fd && record.body.readUInt16LE(0) === 1 ? { ...record, body: Buffer.concat([record.body.subarray(0, 6), Buffer.from([9, 0, 0, 0])]) } : record)));
    await expect(readAll(readXls(file))).rejects.toThrow('row 2: shared string 9 does not exist');
  });
});
