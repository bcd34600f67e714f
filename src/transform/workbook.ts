import { open } from 'node:fs/promises';
import path from 'node:path';
import { DataError, errorMessage } from '../core/errors.js';
import { excelSerialToDate } from './excel-dates.js';

/** A cell as the engine sees it: formulas resolved, rich text flattened, dates as UTC Dates. */
export type Cell = string | number | boolean | Date | null;

export interface SheetRow {
  /** 1-based, as Excel shows it. */
  rowNumber: number;
  /** Index 0 is column A. */
  cells: readonly Cell[];
}

export interface Sheet {
  name: string;
  rows(): AsyncIterable<SheetRow>;
}

export type WorkbookFormat = 'xlsx' | 'xls';

/**
 * Sheets in workbook order. .xlsx is streamed by our own reader (xlsx-reader.ts: flat memory however
 * long the sheet, several times faster than exceljs); .xls goes through SheetJS, the only reader here
 * that parses BIFF (an .xls sheet is capped at 65,536 rows). A sheet's rows() stays readable after the
 * workbook generator has moved on or been closed. The format comes from the file's first bytes, not
 * its name: ONS has served HTML error pages as .xlsx.
 */
export async function* readWorkbook(file: string): AsyncGenerator<Sheet> {
  const format = await sniffFormat(file);
  const sheets = format === 'xlsx' ? (await import('./xlsx-reader.js')).readXlsx(file) : readXls(file);
  try {
    for await (const sheet of sheets) yield { name: sheet.name, rows: () => unreadableAsDataError(sheet.rows(), file) };
  } catch (error) {
    throw asDataError(error, file);
  }
}

function asDataError(error: unknown, file: string): DataError {
  if (error instanceof DataError) return error;
  return new DataError(`${path.basename(file)}: cannot read the workbook (${errorMessage(error)})`, {
    cause: error,
    hint: 'the file may be truncated or corrupt: delete it and extract again',
  });
}

/** A sheet can turn out corrupt part-way through its rows: that is a data error too, not a bug. */
function unreadableAsDataError(rows: AsyncIterable<SheetRow>, file: string): AsyncIterable<SheetRow> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = rows[Symbol.asyncIterator]();
      const fail = (error: unknown): never => {
        throw asDataError(error, file);
      };
      return {
        next: () => iterator.next().catch(fail),
        return: async (value?: unknown) => iterator.return?.(value).catch(fail) ?? { done: true, value: undefined },
      };
    },
  };
}

export async function sniffFormat(file: string): Promise<WorkbookFormat> {
  const handle = await open(file, 'r').catch((error: unknown) => {
    throw new DataError(`${file}: cannot open (${errorMessage(error)})`, { hint: 'check the path', cause: error });
  });
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    if (bytesRead >= 4 && head.readUInt32BE(0) === 0x504b0304) return 'xlsx';
    if (bytesRead >= 8 && head.readUInt32BE(0) === 0xd0cf11e0 && head.readUInt32BE(4) === 0xa1b11ae1) return 'xls';
    const text = head.subarray(0, bytesRead).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    const looksLikeHtml = /^\s*</.test(text);
    throw new DataError(`${path.basename(file)}: not an Excel workbook (starts with "${text}")`, {
      hint: looksLikeHtml ? 'it is an HTML page, probably an error page saved under a workbook name: extract again' : 'expected .xlsx (zip) or .xls (OLE2) content',
    });
  } finally {
    await handle.close();
  }
}

async function* readXls(file: string): AsyncGenerator<Sheet> {
  const XLSX = await import('@e965/xlsx');
  const { readFile } = await import('node:fs/promises');
  let workbook: import('@e965/xlsx').WorkBook;
  try {
    workbook = XLSX.read(await readFile(file), { dense: true, cellDates: false, cellNF: true, cellHTML: false, cellText: false });
  } catch (error) {
    throw new DataError(`${path.basename(file)}: cannot read the .xls workbook (${errorMessage(error)})`, {
      cause: error,
      hint: 'the file may be truncated or corrupt: delete it and extract again',
    });
  }
  const date1904 = Boolean(workbook.Workbook?.WBProps?.date1904);
  for (const name of workbook.SheetNames) {
    const sheet = workbook.Sheets[name];
    const data = (sheet?.['!data'] ?? []) as Array<Array<{ v?: unknown; t?: string; z?: string | number } | undefined> | undefined>;
    yield {
      name,
      async *rows() {
        for (let r = 0; r < data.length; r++) {
          const row = data[r];
          if (!row) continue;
          const cells: Cell[] = new Array(row.length);
          for (let c = 0; c < row.length; c++) {
            const cell = row[c];
            cells[c] = cell ? normaliseSheetJsCell(cell, date1904, XLSX.SSF.is_date) : null;
          }
          yield { rowNumber: r + 1, cells };
        }
      },
    };
  }
}

function normaliseSheetJsCell(cell: { v?: unknown; t?: string; z?: string | number }, date1904: boolean, isDateFormat: (format: string | number) => boolean): Cell {
  const value = cell.v;
  if (value === undefined || value === null || cell.t === 'e' || cell.t === 'z') return null;
  if (cell.t === 'n' && typeof value === 'number' && cell.z !== undefined && isDateFormat(cell.z)) return excelSerialToDate(value, date1904);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value;
  return String(value);
}
