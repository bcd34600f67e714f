import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { MAX_SHEETS, WorkbookLimitError } from '../../../src/transform/workbook/limits.js';
import { readXls, readXlsWithSheetJs } from '../../../src/transform/workbook/xls-reader.js';
import type { Cell, Sheet, SheetRow } from '../../../src/transform/workbook/workbook.js';
import { monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { hasSharedData, sharedDataDir } from '../../helpers/shared-data.js';
import { sheetRows } from '../../helpers/sheet-rows.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';
import { biffRecord, rewriteBiff, toSharedStrings, type BiffRecord } from '../../helpers/biff.js';

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
    for await (const row of sheetRows(sheet)) {
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

describe('the .xls reader on records SheetJS does not write, and on damaged files', () => {
  const [BOF, EOF, CONTINUE, DATEMODE, FORMAT, XF, SST, BOUNDSHEET] = [0x0809, 0x000a, 0x003c, 0x0022, 0x041e, 0x00e0, 0x00fc, 0x0085];
  const [NUMBER, RK, MULRK, LABELSST, LABEL, BOOLERR, FORMULA, STRING] = [0x0203, 0x027e, 0x00bd, 0x00fd, 0x0204, 0x0205, 0x0006, 0x0207];
  /** The XFs SheetJS writes for a number and for a date (format 14). */
  const [GENERAL, DATE] = [16, 17];
  const JAN_31_2020 = 43861;

  const u16 = (...values: number[]): Buffer => Buffer.from(new Uint16Array(values).buffer);
  const u32 = (value: number): Buffer => Buffer.from(new Uint32Array([value >>> 0]).buffer);
  const f64 = (value: number): Buffer => Buffer.from(new Float64Array([value]).buffer);
  const bytes = (...parts: Array<Buffer | number[] | string>): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
  const number = (row: number, column: number, value: number, xf = GENERAL): BiffRecord => biffRecord(NUMBER, bytes(u16(row, column, xf), f64(value)));
  const label = (row: number, column: number, declaredLength: number, text: string): BiffRecord => biffRecord(LABEL, bytes(u16(row, column, GENERAL, declaredLength), [0], text));
  const labelSst = (row: number, column: number, index: number): BiffRecord => biffRecord(LABELSST, bytes(u16(row, column, GENERAL), u32(index)));
  const formula = (column: number, xf: number, result: Buffer): BiffRecord => biffRecord(FORMULA, bytes(u16(0, column, xf), result, Buffer.alloc(8)));
  /** A formula result that is not a number: kind 0 string (in a STRING record after), 1 boolean, 2 error. */
  const special = (kind: number, value: number): Buffer => Buffer.from([kind, 0, value, 0, 0, 0, 0xff, 0xff]);
  const chartBof = biffRecord(BOF, Buffer.from([0x00, 0x06, 0x20, 0x00, 0x62, 0x72, 0xcd, 0x07, 0xc9, 0x00, 0x01, 0x00, 0x06, 0x07, 0x00, 0x00]));
  const eof = biffRecord(EOF, Buffer.alloc(0));
  const sharedStrings = (count: number, ...records: Buffer[]): BiffRecord[] => records.map((body, i) => biffRecord(i === 0 ? SST : CONTINUE, i === 0 ? bytes(u32(count), u32(count), body) : body));

  /**
   * A one-sheet BIFF8 workbook as SheetJS writes it (a number and a date: XFs 16 and 17), its cells replaced by
   * `cells`; `globals` rewrites the records before the sheet; `streamEndsAfterCells` drops what follows the
   * cells, the sheet's EOF included.
   */
  async function crafted(name: string, cells: BiffRecord[], options: { globals?: (records: BiffRecord[]) => BiffRecord[]; streamEndsAfterCells?: boolean } = {}): Promise<string> {
    const file = path.join(dir, name);
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([[0, new Date(Date.UTC(2020, 0, 31))]], { cellDates: true }), 'Sheet');
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }) as Buffer);
    await rewriteBiff(file, (records) => {
      const sheet = records.findIndex((record, i) => i > 0 && record.type === BOF);
      const first = records.findIndex((record) => record.type === NUMBER);
      const last = records.findLastIndex((record) => record.type === NUMBER);
      expect(records.slice(first, last + 1).map((record) => record.body.readUInt16LE(4))).toEqual([GENERAL, DATE]);
      return [...(options.globals ?? ((same) => same))(records.slice(0, sheet)), ...records.slice(sheet, first), ...cells, ...(options.streamEndsAfterCells ? [] : records.slice(last + 1))];
    });
    return file;
  }

  /** Every row each sheet gives, as given (readAll drops rows of empty cells). */
  async function rowsOf(file: string): Promise<SheetRow[][]> {
    const sheets: SheetRow[][] = [];
    for await (const sheet of readXls(file)) {
      const rows: SheetRow[] = [];
      for await (const row of sheetRows(sheet)) rows.push(row);
      sheets.push(rows);
    }
    return sheets;
  }

  const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'no error', (error: unknown) => error);

  it('reads RK and MULRK numbers (30-bit integers or a double’s top bits, each optionally / 100), a MULRK starting a row', async () => {
    const integer = (n: number, hundredths = false): Buffer => u32((n << 2) | 0x02 | (hundredths ? 0x01 : 0));
    const double = (x: number, hundredths = false): Buffer => u32(f64(x).readUInt32LE(4) | (hundredths ? 0x01 : 0));
    const mulrk = biffRecord(MULRK, bytes(u16(1, 0), u16(GENERAL), integer(12345), u16(GENERAL), integer(123450, true), u16(GENERAL), double(1.5), u16(GENERAL), double(1.5, true), u16(3)));
    const file = await crafted('rk.xls', [number(0, 0, 1), mulrk, biffRecord(RK, bytes(u16(2, 1, GENERAL), integer(-7)))]);
    expect(await rowsOf(file)).toEqual([[{ rowNumber: 1, cells: [1] }, { rowNumber: 2, cells: [12345, 1234.5, 1.5, 1.5 / 100] }, { rowNumber: 3, cells: [null, -7] }]]);
    expect(await readAll(readXls(file))).toEqual(await readAll(readXlsWithSheetJs(file)));
  });

  it('reads formula results: a date, booleans true and false; a STRING record after no string formula is ignored', async () => {
    const file = await crafted('formula-results.xls', [formula(0, DATE, f64(JAN_31_2020)), formula(1, GENERAL, special(1, 1)), formula(2, GENERAL, special(1, 0)), biffRecord(STRING, bytes(u16(5), [0], 'stray'))]);
    expect(await rowsOf(file)).toEqual([[{ rowNumber: 1, cells: [new Date(Date.UTC(2020, 0, 31)), true, false] }]]);
  });

  it('gives no row for a row of error cells only, and none for an empty sheet', async () => {
    const file = await crafted('errors-only.xls', [biffRecord(BOOLERR, bytes(u16(0, 0, GENERAL), [0x07, 1]))]);
    expect(await rowsOf(file)).toEqual([[]]);
  });

  it('skips an embedded chart with a nested one wherever it stands among the cells, and one the stream ends in', async () => {
    const chart = [chartBof, biffRecord(0x1001, u16(0)), number(0, 5, 99), chartBof, number(0, 6, 98), eof, eof];
    expect(await rowsOf(await crafted('chart-between-cells.xls', [number(0, 0, 1), ...chart, number(0, 1, 2)]))).toEqual([[{ rowNumber: 1, cells: [1, 2] }]]);
    expect(await rowsOf(await crafted('unclosed-chart.xls', [number(0, 0, 1), chartBof, number(0, 5, 99)], { streamEndsAfterCells: true }))).toEqual([[{ rowNumber: 1, cells: [1] }]]);
  });

  it('reads a sheet whose listed offset is not a worksheet’s BOF (a chart’s BOF, a cell) as empty', async () => {
    const file = path.join(dir, 'misplaced-sheets.xls');
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([[1]]), 'Figures');
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([[2]]), 'Chart substream');
    // Q1 is a NUMBER record with 0x0010 (a worksheet BOF's substream type) where a BOF keeps it.
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([[...new Array<null>(16).fill(null), 3, 4]]), 'Offset at a cell');
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }) as Buffer);
    await rewriteBiff(file, (records) => {
      const bofs = records.filter((record) => record.type === BOF);
      bofs[2]!.body.writeUInt16LE(0x0020, 2);
      const q1 = records.find((record) => record.type === NUMBER && record.body.readUInt16LE(2) === 16)!;
      records.filter((record) => record.type === BOUNDSHEET)[2]!.body.writeUInt32LE(q1.from!, 0);
      return records;
    });
    expect(await rowsOf(file)).toEqual([[{ rowNumber: 1, cells: [1] }], [], []]);
  });

  it('reads strings across CONTINUE records: rich-text runs and phonetic data skipped, characters switching width', async () => {
    const file = await crafted('continued-strings.xls', [0, 1, 2, 3, 4, 5].map((i) => labelSst(0, i, i)), {
      globals: (records) => records.flatMap((record) => (record.type !== SST ? [record] : sharedStrings(
        6,
        bytes(
          bytes(u16(4), [0x08], u16(2), 'rich', Buffer.alloc(8, 0x41)),
          bytes(u16(8), [0x04], u32(6), 'phonetic', Buffer.alloc(6, 0x42)),
          bytes(u16(4), [0x0c], u16(1), u32(3), 'both', Buffer.alloc(4 + 3, 0x43)),
          bytes(u16(4), [0x01], Buffer.from('αβ', 'utf16le')),
        ),
        // The rest of 'αβγδ' in one-byte characters; then runs cut by the record's end.
        bytes([0x00], 'gd', u16(4), [0x08], u16(2), 'skip', Buffer.alloc(4, 0x41)),
        bytes(Buffer.alloc(4, 0x41), u16(5), [0x00], 'after'),
      ))),
    });
    expect(await rowsOf(file)).toEqual([[{ rowNumber: 1, cells: ['rich', 'phonetic', 'both', 'αβgd', 'skip', 'after'] }]]);
  });

  it('ends a string at its record’s end when no CONTINUE follows: before another record, at the stream’s end, a lone byte, runs cut', async () => {
    expect(await rowsOf(await crafted('long-label.xls', [label(0, 0, 10, 'short'), number(0, 1, 2)]))).toEqual([[{ rowNumber: 1, cells: ['short', 2] }]]);
    expect(await rowsOf(await crafted('long-label-last.xls', [number(0, 0, 1), label(0, 1, 10, 'short')], { streamEndsAfterCells: true }))).toEqual([[{ rowNumber: 1, cells: [1, 'short'] }]]);
    const sst = (name: string, entry: Buffer): Promise<string> => crafted(name, [labelSst(0, 0, 0)], { globals: (records) => records.flatMap((record) => (record.type === SST ? sharedStrings(1, entry) : [record])) });
    expect(await rowsOf(await sst('lone-byte.xls', bytes(u16(3), [0x01], Buffer.from('αβ', 'utf16le'), [0xb3])))).toEqual([[{ rowNumber: 1, cells: ['αβ'] }]]);
    expect(await rowsOf(await sst('runs-cut.xls', bytes(u16(4), [0x08], u16(2), 'runs')))).toEqual([[{ rowNumber: 1, cells: ['runs'] }]]);
  });

  it('says so when a record ends before the data it declares (a shared-string table short of its count)', async () => {
    const file = await crafted('short-table.xls', [labelSst(0, 0, 0)], { globals: (records) => records.flatMap((record) => (record.type === SST ? sharedStrings(2, bytes(u16(1), [0], 'a')) : [record])) });
    await expect(rowsOf(file)).rejects.toThrow('a record ends before the data it declares (truncated or corrupt)');
  });

  it('dates count from 1900 without a DATEMODE record; a custom format (FORMAT record) showing a date makes a date', async () => {
    const file = await crafted('custom-format.xls', [number(0, 0, JAN_31_2020, DATE), number(0, 1, JAN_31_2020, 18), number(0, 2, JAN_31_2020, GENERAL)], {
      globals: (records) => {
        const lastXf = records.findLastIndex((record) => record.type === XF);
        const custom = Buffer.from(records[lastXf]!.body);
        custom.writeUInt16LE(201, 2); // odd: read from the wrong offset, its low byte would be taken for a two-byte flag
        const format = biffRecord(FORMAT, bytes(u16(201, 16), [0], 'yyyy-mm-dd hh:mm'));
        return [...records.slice(0, lastXf + 1), format, biffRecord(XF, custom), ...records.slice(lastXf + 1)].filter((record) => record.type !== DATEMODE);
      },
    });
    const date = new Date(Date.UTC(2020, 0, 31));
    expect(await rowsOf(file)).toEqual([[{ rowNumber: 1, cells: [date, date, JAN_31_2020] }]]);
  });

  it('names a shared string that does not exist when there is no shared-string table at all', async () => {
    const file = await crafted('no-table.xls', [labelSst(0, 0, 0)], { globals: (records) => records.filter((record) => record.type !== SST) });
    await expect(rowsOf(file)).rejects.toThrow('row 1: shared string 0 does not exist');
  });

  it(`lists up to ${MAX_SHEETS} sheets and refuses one more`, async () => {
    const copies = (count: number) => (records: BiffRecord[]): BiffRecord[] => records.flatMap((record) => (record.type === BOUNDSHEET ? new Array<BiffRecord>(count).fill(record) : [record]));
    let listed = 0;
    for await (const _sheet of readXls(await crafted('most-sheets.xls', [], { globals: copies(MAX_SHEETS) }))) listed++;
    expect(listed).toBe(MAX_SHEETS);
    const error = await failure(rowsOf(await crafted('too-many-sheets.xls', [], { globals: copies(MAX_SHEETS + 1) })));
    expect(error).toBeInstanceOf(WorkbookLimitError);
    expect(error).toMatchObject({ message: `the workbook lists more than ${MAX_SHEETS} sheets`, hint: 'the file is corrupt or crafted: no spreadsheet program writes such a cell' });
  });

  it('calls an encrypted .xlsx encrypted whatever its algorithm (SheetJS throws a bare string for one it does not know)', async () => {
    const info = Buffer.alloc(48);
    info.writeUInt32LE(0x00020003, 0); // version 3.2: standard encryption
    info.writeUInt32LE(0x24, 4);
    info.writeUInt32LE(32, 8);
    info.writeUInt32LE(0x24, 12);
    info.writeUInt32LE(0x6603, 20); // 3DES, which SheetJS does not know
    for (const streams of [['/EncryptionInfo', '/EncryptedPackage'], ['/EncryptionInfo']]) {
      const container = XLSX.CFB.utils.cfb_new();
      for (const stream of streams) XLSX.CFB.utils.cfb_add(container, stream, stream === '/EncryptionInfo' ? info : Buffer.alloc(4096, 0x5a));
      const file = path.join(dir, 'locked-3des.xlsx');
      await writeFile(file, XLSX.CFB.write(container, { type: 'buffer' }) as Buffer);
      const error = await failure(rowsOf(file));
      expect(error).toBeInstanceOf(DataError);
      expect(error).toMatchObject({
        message: 'locked-3des.xlsx: the workbook is encrypted (password-protected), so its cells cannot be read',
        hint: 'open it in Excel with the password, remove the protection (File > Info > Protect Workbook) and save a copy to read',
      });
    }
  });

  it('through SheetJS: an encrypted Excel 5 workbook is called encrypted, other failures are passed on as they are', async () => {
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([['old']]), 'Figures');
    const container = XLSX.CFB.read(XLSX.write(workbook, { type: 'buffer', bookType: 'biff5' }), { type: 'buffer' });
    const book = XLSX.CFB.find(container, 'Book') as { content: Buffer; size: number };
    const stream = Buffer.from(book.content);
    const afterBof = 4 + stream.readUInt16LE(2);
    book.content = Buffer.concat([stream.subarray(0, afterBof), bytes(u16(0x002f, 4), u16(0, 0)), stream.subarray(afterBof)]);
    book.size = book.content.length;
    const locked = path.join(dir, 'locked-biff5.xls');
    await writeFile(locked, XLSX.CFB.write(container, { type: 'buffer' }) as Buffer);
    expect(await failure(rowsOf(locked))).toMatchObject({ message: 'locked-biff5.xls: the workbook is encrypted (password-protected), so its cells cannot be read' });

    const empty = XLSX.CFB.utils.cfb_new();
    XLSX.CFB.utils.cfb_add(empty, '/Other', Buffer.alloc(16));
    const noWorkbook = path.join(dir, 'no-workbook.xls');
    await writeFile(noWorkbook, XLSX.CFB.write(empty, { type: 'buffer' }) as Buffer);
    const error = await failure(rowsOf(noWorkbook));
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DataError);
    expect(String(error)).not.toMatch(/encrypt/);

    const cut = path.join(dir, 'ole2-signature.xls');
    await writeFile(cut, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]));
    const damaged = await failure(rowsOf(cut));
    expect(damaged).toMatchObject({ message: 'its OLE2 container (the .xls file structure) is cut short or damaged' });
    expect((damaged as Error).cause).toBeInstanceOf(Error);
  });

  it('reads Excel 5 dates through SheetJS (text in a date format stays text), also from a stream named Workbook (as Excel 97 names it)', async () => {
    const file = path.join(dir, 'biff5-dates.xls');
    const sheet = XLSX.utils.aoa_to_sheet([['old', new Date(Date.UTC(2020, 0, 31)), 'n/a']], { cellDates: true });
    sheet['C1']!.z = 'yyyy-mm-dd';
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, sheet, 'Figures');
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff5' }) as Buffer);
    const expected = [{ rowNumber: 1, cells: ['old', new Date(Date.UTC(2020, 0, 31)), 'n/a'] }];
    expect((await rowsOf(file))[0]).toEqual(expected);
    const container = XLSX.CFB.read(await readFile(file), { type: 'buffer' });
    const book = XLSX.CFB.find(container, 'Book')!.content;
    XLSX.CFB.utils.cfb_del(container, '/Book');
    XLSX.CFB.utils.cfb_add(container, '/Workbook', Buffer.from(book as Uint8Array));
    await writeFile(file, XLSX.CFB.write(container, { type: 'buffer' }) as Buffer);
    expect((await rowsOf(file))[0]).toEqual(expected);
  });
});
