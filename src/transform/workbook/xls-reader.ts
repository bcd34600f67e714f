import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../../core/errors.js';
import { columnName } from './column-name.js';
import { excelSerialToDate, isDateNumberFormat } from './excel-dates.js';
import { MAX_SHEETS, WorkbookLimitError, workbookLimits, type WorkbookLimits } from './limits.js';
import type { Cell, Sheet, SheetRow } from './workbook.js';

/**
 * Reads .xls (BIFF8, Excel 97-2003) sheets in workbook order. SheetJS opens the OLE2 container; the
 * BIFF records of the Workbook stream are read here, one row at a time, instead of SheetJS building an
 * object per cell for the whole workbook: reading every cell of a 60,000 x 14 sheet took SheetJS 1.9 s
 * and 548 MB (whole process), this 0.25 s and 110 MB, with the same cells (test/transform/
 * xls-reader.test.ts). Older BIFF5/7 workbooks and encrypted ones go through SheetJS's full parser.
 *
 * Cells as the .xlsx reader gives them: shared and inline strings, numbers (RK, MULRK, NUMBER),
 * booleans, formula results (cached values), dates where the cell's format shows a date; errors and
 * empty strings as null.
 */
export async function* readXls(file: string, limits: WorkbookLimits = workbookLimits()): AsyncGenerator<Sheet> {
  // The whole file is held (SheetJS reads the container at once): bound it before reading.
  const { size } = await stat(file);
  if (size > limits.partBytes) throw new WorkbookLimitError(`the .xls file is ${size} bytes, more than ${limits.partBytes}`, 'partBytes');
  const XLSX = await import('@e965/xlsx');
  const bytes = await readFile(file);
  const cfb = XLSX.CFB as Cfb;
  let container: unknown;
  try {
    container = cfb.read(bytes, { type: 'buffer' });
  } catch (error) {
    // SheetJS's own messages say nothing useful here (`The first argument must be of type string...`).
    throw new Error('its OLE2 container (the .xls file structure) is cut short or damaged', { cause: error });
  }
  // An encrypted .xlsx is an OLE2 file too: the package inside is encrypted.
  if (cfb.find(container, 'EncryptedPackage') || cfb.find(container, 'EncryptionInfo')) throw encryptedError(file);
  const stream = cfb.find(container, 'Workbook');
  const workbook = stream ? readGlobals(toBuffer(stream.content), limits, file) : undefined;
  if (!workbook) {
    yield* sheetsOf(XLSX, bytes, file);
    return;
  }
  for (const sheet of workbook.sheets) yield { name: sheet.name, rowBatches: () => sheetRowBatches(workbook, sheet.offset) };
}

function encryptedError(file: string): DataError {
  return new DataError(`${path.basename(file)}: the workbook is encrypted (password-protected), so its cells cannot be read`, {
    hint: 'open it in Excel with the password, remove the protection (File > Info > Protect Workbook) and save a copy to read',
  });
}

/** The part of SheetJS's CFB (OLE2 container) API used here. */
interface Cfb {
  read(data: Buffer, options: { type: 'buffer' }): unknown;
  find(container: unknown, path: string): { content: Uint8Array | number[] } | null;
}

function toBuffer(content: Uint8Array | number[]): Buffer {
  return content instanceof Uint8Array ? Buffer.from(content.buffer, content.byteOffset, content.byteLength) : Buffer.from(content);
}

const BOF = 0x0809;
const EOF = 0x000a;
const CONTINUE = 0x003c;
const FILEPASS = 0x002f;
const DATEMODE = 0x0022;
const FORMAT = 0x041e;
const XF = 0x00e0;
const SST = 0x00fc;
const BOUNDSHEET = 0x0085;
const NUMBER = 0x0203;
const RK = 0x027e;
const MULRK = 0x00bd;
const LABELSST = 0x00fd;
const LABEL = 0x0204;
const RSTRING = 0x00d6;
const BOOLERR = 0x0205;
const FORMULA = 0x0006;
const STRING = 0x0207;
const BIFF8 = 0x0600;
const WORKSHEET_SUBSTREAM = 0x0010;

interface Workbook {
  stream: Buffer;
  limits: WorkbookLimits;
  date1904: boolean;
  /** By XF index: whether the cell format shows a date. */
  dateStyles: boolean[];
  sharedStrings: string[];
  sheets: Array<{ name: string; offset: number }>;
}

/** The workbook globals (formats, shared strings, sheet list), or undefined when it is not plain BIFF8. */
function readGlobals(stream: Buffer, limits: WorkbookLimits, file: string): Workbook | undefined {
  if (stream.length < 8 || stream.readUInt16LE(0) !== BOF || stream.readUInt16LE(4) !== BIFF8) return undefined;
  const formats = new Map<number, string>();
  const styleFormats: number[] = [];
  const workbook: Workbook = { stream, limits, date1904: false, dateStyles: [], sharedStrings: [], sheets: [] };
  for (let at = 0; at + 4 <= stream.length; ) {
    const type = stream.readUInt16LE(at);
    const length = stream.readUInt16LE(at + 2);
    const body = at + 4;
    switch (type) {
      case FILEPASS:
        throw encryptedError(file);
      case DATEMODE:
        workbook.date1904 = stream.readUInt16LE(body) === 1;
        break;
      case FORMAT:
        formats.set(stream.readUInt16LE(body), new RecordReader(stream, at, body + 2).unicodeString(2));
        break;
      case XF:
        styleFormats.push(stream.readUInt16LE(body + 2));
        break;
      case SST:
        workbook.sharedStrings = readSharedStrings(new RecordReader(stream, at, body + 8), stream.readUInt32LE(body + 4), limits);
        break;
      case BOUNDSHEET: {
        const reader = new RecordReader(stream, at, body + 6);
        // Worksheets only: macro sheets, chart sheets and VB modules hold no cells to read.
        if (stream[body + 5] === 0) workbook.sheets.push({ offset: stream.readUInt32LE(body), name: reader.unicodeString(1) });
        if (workbook.sheets.length > MAX_SHEETS) throw new WorkbookLimitError(`the workbook lists more than ${MAX_SHEETS} sheets`, 'excel');
        break;
      }
    }
    at = body + length;
    if (type === EOF) break;
  }
  workbook.dateStyles = styleFormats.map((id) => isDateNumberFormat(id, formats.get(id)));
  return workbook;
}

/**
 * Reads a record's body together with the CONTINUE records that follow it. A string whose characters
 * run into a CONTINUE record restarts there with a fresh flags byte, which may switch between
 * one-byte (Latin-1) and two-byte (UTF-16LE) characters.
 */
class RecordReader {
  private end: number;
  private nextRecord: number;

  constructor(private readonly stream: Buffer, recordStart: number, private at: number) {
    this.end = recordStart + 4 + stream.readUInt16LE(recordStart + 2);
    this.nextRecord = this.end;
  }

  private continueIfAtEnd(): boolean {
    if (this.at < this.end) return true;
    if (this.nextRecord + 4 > this.stream.length || this.stream.readUInt16LE(this.nextRecord) !== CONTINUE) return false;
    this.at = this.nextRecord + 4;
    this.end = this.at + this.stream.readUInt16LE(this.nextRecord + 2);
    this.nextRecord = this.end;
    return true;
  }

  uint8(): number {
    if (!this.continueIfAtEnd()) throw new Error('a record ends before the data it declares (truncated or corrupt)');
    return this.stream[this.at++]!;
  }

  uint16(): number {
    return this.uint8() | (this.uint8() << 8);
  }

  uint32(): number {
    return (this.uint16() | (this.uint16() << 16)) >>> 0;
  }

  skip(bytes: number): void {
    for (let left = bytes; left > 0; ) {
      if (!this.continueIfAtEnd()) return;
      const step = Math.min(left, this.end - this.at);
      this.at += step;
      left -= step;
    }
  }

  /** XLUnicodeString (lengthBytes 2) or ShortXLUnicodeString (1): length, flags, characters. */
  unicodeString(lengthBytes: 1 | 2): string {
    const length = lengthBytes === 1 ? this.uint8() : this.uint16();
    return this.characters(length, this.uint8());
  }

  /** `count` characters, whose width the flags byte gives and each CONTINUE record may change. */
  characters(count: number, flags: number): string {
    let text = '';
    let wide = (flags & 0x01) !== 0;
    for (let left = count; left > 0; ) {
      if (this.at >= this.end) {
        if (!this.continueIfAtEnd()) break;
        wide = (this.stream[this.at++]! & 0x01) !== 0;
      }
      const available = Math.min(left, Math.floor((this.end - this.at) / (wide ? 2 : 1)));
      const bytes = available * (wide ? 2 : 1);
      text += this.stream.toString(wide ? 'utf16le' : 'latin1', this.at, this.at + bytes);
      this.at += bytes;
      left -= available;
      if (available === 0) break; // a lone byte of a two-byte character: corrupt
    }
    return text;
  }
}

/** XLUnicodeRichExtendedString entries: rich-text runs and phonetic (ExtRst) data are skipped. */
function readSharedStrings(reader: RecordReader, count: number, limits: WorkbookLimits): string[] {
  if (count > limits.sharedStrings) throw new WorkbookLimitError(`shared strings: the table declares ${count} entries, more than ${limits.sharedStrings}`, 'sharedStrings');
  const strings: string[] = [];
  let chars = 0;
  for (let i = 0; i < count; i++) {
    const length = reader.uint16();
    const flags = reader.uint8();
    const runs = flags & 0x08 ? reader.uint16() : 0;
    const extended = flags & 0x04 ? reader.uint32() : 0;
    chars += length;
    if (chars > limits.sharedStringChars) throw new WorkbookLimitError(`shared strings: more than ${limits.sharedStringChars} characters in all`, 'sharedStringChars');
    strings.push(reader.characters(length, flags));
    reader.skip(runs * 4 + extended);
  }
  return strings;
}

const rkBuffer = Buffer.alloc(8);

/** RK: a 30-bit integer or the top 30 bits of a double, optionally divided by 100. */
function rkValue(rk: number): number {
  let value: number;
  if (rk & 0x02) {
    value = rk >> 2;
  } else {
    rkBuffer.writeInt32LE(0, 0);
    rkBuffer.writeInt32LE(rk & ~0x03, 4);
    value = rkBuffer.readDoubleLE(0);
  }
  return rk & 0x01 ? value / 100 : value;
}

/** Rows handed out this many at a time (the sheet is in memory already: the arrays only save awaits). */
const ROW_BATCH = 256;

async function* sheetRowBatches(workbook: Workbook, offset: number): AsyncGenerator<SheetRow[]> {
  const { stream, dateStyles, date1904, sharedStrings, limits } = workbook;
  if (stream.readUInt16LE(offset) !== BOF || stream.readUInt16LE(offset + 6) !== WORKSHEET_SUBSTREAM) return;
  const number = (value: number, xf: number): Cell => (dateStyles[xf] === true ? excelSerialToDate(value, date1904) : value);
  let rowNumber = 0;
  let cells: Cell[] = [];
  let pendingFormula: { row: number; column: number } | undefined;
  let batch: SheetRow[] = [];
  const put = (row: number, column: number, cell: Cell): SheetRow | undefined => {
    let finished: SheetRow | undefined;
    if (row + 1 !== rowNumber) {
      if (cells.length > 0) finished = { rowNumber, cells };
      rowNumber = row + 1;
      cells = [];
    }
    if (cell === null || cell === '') return finished;
    // Rows are padded out to their last value: a lone value far right would cost its row that many cells.
    if (column >= limits.columns) throw new WorkbookLimitError(`cell ${columnName(column)}${row + 1} lies past column ${columnName(limits.columns - 1)}, the last a row may span`, 'columns');
    while (cells.length < column) cells.push(null);
    cells[column] = cell;
    return finished;
  };

  let at = offset;
  at += 4 + stream.readUInt16LE(at + 2); // the sheet's BOF
  while (at + 4 <= stream.length) {
    const type = stream.readUInt16LE(at);
    const length = stream.readUInt16LE(at + 2);
    const body = at + 4;
    if (type === EOF) break;
    if (type === BOF) {
      at = endOfSubstream(stream, at); // an embedded chart's records, inside the sheet's
      continue;
    }
    let finished: SheetRow | undefined;
    switch (type) {
      case NUMBER:
        finished = put(stream.readUInt16LE(body), stream.readUInt16LE(body + 2), number(stream.readDoubleLE(body + 6), stream.readUInt16LE(body + 4)));
        break;
      case RK:
        finished = put(stream.readUInt16LE(body), stream.readUInt16LE(body + 2), number(rkValue(stream.readInt32LE(body + 6)), stream.readUInt16LE(body + 4)));
        break;
      case MULRK: {
        const row = stream.readUInt16LE(body);
        const first = stream.readUInt16LE(body + 2);
        for (let i = 0, cell = body + 4; cell + 6 <= body + length - 2; i++, cell += 6) {
          const done = put(row, first + i, number(rkValue(stream.readInt32LE(cell + 2)), stream.readUInt16LE(cell)));
          finished ??= done;
        }
        break;
      }
      case LABELSST: {
        const index = stream.readUInt32LE(body + 6);
        const text = sharedStrings[index];
        if (text === undefined) throw new Error(`row ${stream.readUInt16LE(body) + 1}: shared string ${index} does not exist`);
        finished = put(stream.readUInt16LE(body), stream.readUInt16LE(body + 2), text);
        break;
      }
      case LABEL:
      case RSTRING:
        finished = put(stream.readUInt16LE(body), stream.readUInt16LE(body + 2), new RecordReader(stream, at, body + 6).unicodeString(2));
        break;
      case BOOLERR:
        finished = put(stream.readUInt16LE(body), stream.readUInt16LE(body + 2), stream[body + 7] === 1 ? null : stream[body + 6] !== 0);
        break;
      case FORMULA: {
        const row = stream.readUInt16LE(body);
        const column = stream.readUInt16LE(body + 2);
        if (stream.readUInt16LE(body + 12) !== 0xffff) {
          finished = put(row, column, number(stream.readDoubleLE(body + 6), stream.readUInt16LE(body + 4)));
        } else {
          // A string result follows in a STRING record; a boolean, error or empty string is here.
          const kind = stream[body + 6];
          if (kind === 0) pendingFormula = { row, column };
          finished = put(row, column, kind === 1 ? stream[body + 8] !== 0 : null);
        }
        break;
      }
      case STRING:
        if (pendingFormula) {
          finished = put(pendingFormula.row, pendingFormula.column, new RecordReader(stream, at, body).unicodeString(2));
          pendingFormula = undefined;
        }
        break;
    }
    if (finished) {
      batch.push(finished);
      if (batch.length === ROW_BATCH) {
        yield batch;
        batch = [];
      }
    }
    at = body + length;
  }
  if (cells.length > 0) batch.push({ rowNumber, cells });
  if (batch.length > 0) yield batch;
}

/** The position after the EOF that closes the substream whose BOF is at `at` (nested ones included). */
function endOfSubstream(stream: Buffer, at: number): number {
  let depth = 0;
  while (at + 4 <= stream.length) {
    const type = stream.readUInt16LE(at);
    at += 4 + stream.readUInt16LE(at + 2);
    if (type === BOF) depth++;
    else if (type === EOF && --depth === 0) break;
  }
  return at;
}

/**
 * Any .xls through SheetJS's full parser (one object per cell, the whole workbook at once): the way for
 * what is not plain BIFF8, and the reference the BIFF8 reader is tested against.
 */
export async function* readXlsWithSheetJs(file: string): AsyncGenerator<Sheet> {
  yield* sheetsOf(await import('@e965/xlsx'), await readFile(file), file);
}

async function* sheetsOf(XLSX: typeof import('@e965/xlsx'), bytes: Buffer, file: string): AsyncGenerator<Sheet> {
  let workbook: ReturnType<typeof XLSX.read>;
  try {
    workbook = XLSX.read(bytes, { dense: true, cellDates: false, cellNF: true, cellHTML: false, cellText: false });
  } catch (error) {
    if (/password|encrypt/i.test(error instanceof Error ? error.message : '')) throw encryptedError(file);
    throw error;
  }
  const date1904 = Boolean(workbook.Workbook?.WBProps?.date1904);
  for (const name of workbook.SheetNames) {
    const sheet = workbook.Sheets[name];
    const data = (sheet?.['!data'] ?? []) as Array<Array<{ v?: unknown; t?: string; z?: string | number } | undefined> | undefined>;
    yield {
      name,
      async *rowBatches() {
        let batch: SheetRow[] = [];
        for (let r = 0; r < data.length; r++) {
          const row = data[r];
          if (!row) continue;
          const cells: Cell[] = new Array(row.length);
          for (let c = 0; c < row.length; c++) {
            const cell = row[c];
            cells[c] = cell ? sheetJsCell(cell, date1904, XLSX.SSF.is_date) : null;
          }
          batch.push({ rowNumber: r + 1, cells });
          if (batch.length === ROW_BATCH) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length > 0) yield batch;
      },
    };
  }
}

function sheetJsCell(cell: { v?: unknown; t?: string; z?: string | number }, date1904: boolean, isDateFormat: (format: string | number) => boolean): Cell {
  const value = cell.v;
  // Read without cellDates or sheetStubs, SheetJS gives strings, numbers (dates among them) and booleans.
  if (value === undefined || value === null || value === '' || cell.t === 'e') return null;
  if (typeof value === 'number' && cell.z !== undefined && isDateFormat(cell.z)) return excelSerialToDate(value, date1904);
  return typeof value === 'number' || typeof value === 'boolean' ? value : String(value);
}
