import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { DataError, errorMessage } from '../core/errors.js';

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
 * Sheets in workbook order. .xlsx is streamed with exceljs (flat memory however long the sheet);
 * .xls goes through SheetJS, the only reader here that parses BIFF (an .xls sheet is capped at 65,536 rows).
 * The format comes from the file's first bytes, not its name: ONS has served HTML error pages as .xlsx.
 */
export async function* readWorkbook(file: string): AsyncGenerator<Sheet> {
  const format = await sniffFormat(file);
  const sheets = format === 'xlsx' ? readXlsx(file) : readXls(file);
  try {
    yield* sheets;
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(`${path.basename(file)}: cannot read the workbook (${errorMessage(error)})`, {
      cause: error,
      hint: 'the file may be truncated or corrupt: delete it and extract again',
    });
  }
}

/** Sheet names in workbook order (an .xlsx is read through to the end). */
export async function listSheets(file: string): Promise<string[]> {
  const names: string[] = [];
  for await (const sheet of readWorkbook(file)) names.push(sheet.name);
  return names;
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

async function* readXlsx(file: string): AsyncGenerator<Sheet> {
  const { default: ExcelJS } = await import('exceljs');
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(zipInput(file), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'cache', // needed to tell date cells from numbers
    entries: 'ignore',
  });
  for await (const worksheet of reader as AsyncIterable<ExcelWorksheetReader>) {
    const name = worksheet.name ?? `Sheet${worksheet.id}`;
    let consumed = false;
    yield {
      name,
      async *rows() {
        consumed = true;
        for await (const row of worksheet) {
          const values = row.values as unknown[];
          const cells: Cell[] = new Array(Math.max(0, values.length - 1));
          for (let i = 1; i < values.length; i++) cells[i - 1] = normaliseExcelJsValue(values[i]);
          yield { rowNumber: row.number, cells };
        }
      },
    };
    // The zip is read in order: a sheet nobody asked for must still be drained before the next one.
    if (!consumed) for await (const _row of worksheet) { /* skip */ }
  }
}

/**
 * The workbook file as a stream whose zip parser can only end for real. unzipper's Parse emits 'end' as
 * soon as its input is written, before it has pushed the last entries; exceljs's reader then stops early
 * and loses them, e.g. `xl/workbook.xml`, which many writers store last (exceljs#3064: "Cannot read
 * properties of undefined (reading 'sheets')", or sheets missing). The real end comes after the zip's
 * end-of-central-directory record, once every entry was pushed.
 */
function zipInput(file: string): ReadStream {
  const input = createReadStream(file);
  const pipe = input.pipe.bind(input);
  input.pipe = <T extends NodeJS.WritableStream>(zip: T, options?: { end?: boolean }): T => {
    const parser = zip as unknown as Readable;
    const emit = parser.emit.bind(parser);
    parser.emit = (event: string | symbol, ...args: unknown[]): boolean => ((event === 'end' || event === 'close') && !parser.readableEnded ? false : emit(event, ...args));
    return pipe(zip, options);
  };
  return input;
}

interface ExcelWorksheetReader extends AsyncIterable<{ number: number; values: unknown }> {
  id: number;
  name?: string;
}

function normaliseExcelJsValue(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value;
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (Array.isArray(object.richText)) return (object.richText as Array<{ text: string }>).map((run) => run.text).join('');
    if ('result' in object) return normaliseExcelJsValue(object.result);
    if ('formula' in object || 'sharedFormula' in object) return null;
    if ('text' in object) return normaliseExcelJsValue(object.text);
    if ('error' in object) return null;
  }
  return String(value);
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

const EXCEL_EPOCH_MS = Date.UTC(1899, 11, 30);
const EXCEL_1904_OFFSET_DAYS = 1462;
const DAY_MS = 86_400_000;

/** Serial day numbers are local wall-clock dates; reading them as UTC keeps a date a date in every time zone. */
export function excelSerialToDate(serial: number, date1904 = false): Date {
  const days = serial + (date1904 ? EXCEL_1904_OFFSET_DAYS : 0);
  return new Date(EXCEL_EPOCH_MS + Math.round(days * DAY_MS));
}
