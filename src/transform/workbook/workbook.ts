import { open } from 'node:fs/promises';
import path from 'node:path';
import { DataError, errorMessage } from '../../core/errors.js';
import { WorkbookLimitError, workbookLimits } from './limits.js';

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
  /**
   * The rows in the arrays the reader has them in (a chunk of the sheet's XML, a stretch of BIFF records), never
   * empty: one await per array rather than per row, which the table readers paid 60,000 times in the bench's sheet.
   */
  rowBatches(): AsyncIterable<readonly SheetRow[]>;
}

export type WorkbookFormat = 'xlsx' | 'xls';

/**
 * Sheets in workbook order, rows streamed: .xlsx by xlsx-reader.ts (flat memory however long the
 * sheet, several times faster than exceljs), .xls by xls-reader.ts (BIFF8 records read row by row;
 * the file itself is held, at most 65,536 rows a sheet). A sheet's rows stay readable after the
 * workbook generator has moved on or been closed. The format comes from the file's first bytes, not
 * its name: ONS has served HTML error pages as .xlsx.
 */
export async function* readWorkbook(file: string): AsyncGenerator<Sheet> {
  const format = await sniffFormat(file);
  const limits = workbookLimits();
  const sheets = format === 'xlsx' ? (await import('./xlsx-reader.js')).readXlsx(file, limits) : (await import('./xls-reader.js')).readXls(file, limits);
  try {
    for await (const sheet of sheets) yield { name: sheet.name, rowBatches: () => unreadableAsDataError(sheet.rowBatches(), file, sheet.name) };
  } catch (error) {
    throw asDataError(error, file);
  }
}

/**
 * Whatever a reader throws on a bad file becomes one data error naming the file (and sheet): a crafted
 * or damaged workbook is the input's fault, never a crash of etl.
 */
function asDataError(error: unknown, file: string, sheet?: string): DataError {
  const where = `${path.basename(file)}${sheet === undefined ? '' : `, sheet "${sheet}"`}`;
  if (error instanceof WorkbookLimitError) return new DataError(`${where}, ${error.message}`, { hint: error.hint, cause: error });
  if (error instanceof DataError) return error;
  return new DataError(`${where}: cannot read the ${sheet === undefined ? 'workbook' : 'sheet'} (${errorMessage(error)})`, {
    cause: error,
    hint: 'the file may be truncated or corrupt: delete it and extract again',
  });
}

/** A sheet can turn out corrupt part-way through its rows: that is a data error too, not a bug. */
function unreadableAsDataError(rows: AsyncIterable<readonly SheetRow[]>, file: string, sheet: string): AsyncIterable<readonly SheetRow[]> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = rows[Symbol.asyncIterator]();
      const fail = (error: unknown): never => {
        throw asDataError(error, file, sheet);
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

/** Sheet names in workbook order. */
export async function listSheets(file: string): Promise<string[]> {
  const names: string[] = [];
  for await (const sheet of readWorkbook(file)) names.push(sheet.name);
  return names;
}
