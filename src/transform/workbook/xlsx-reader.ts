import path from 'node:path';
import { excelSerialToDate, isDateNumberFormat } from './excel-dates.js';
import { columnName } from './column-name.js';
import { EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, MAX_PART_ENTRIES, MAX_SHEETS, WorkbookLimitError, workbookLimits, type WorkbookLimits } from './limits.js';
import type { Cell, Sheet, SheetRow } from './workbook.js';
import { XmlScanner, XmlTokenTooLongError, decodeXmlText, isSpace, openTagEnd, type XmlHandler, type XmlTag } from './xml-scanner.js';
import { openZip, type ZipEntry, type ZipFile } from './zip-file.js';

/**
 * Reads .xlsx sheets in workbook order, streaming each sheet's rows: the zip member is inflated in
 * chunks and scanned with a hand-written tokenizer, so memory stays flat however long the sheet
 * (only the shared strings are held, as every reader must). Reading every cell of a 60,000 x 14 sheet
 * took exceljs's streaming reader 1.9 s and 229 MB (whole process), this 0.47 s and 93 MB, with the
 * same cells (test/transform/xlsx-reader.test.ts); exceljs also fails when a sheet precedes
 * workbook.xml in the zip.
 *
 * Cells: shared, inline (rich text runs joined, phonetic runs left out) and formula strings; numbers;
 * booleans; dates where the cell's number format shows a date (or an ISO `t="d"` cell); errors and empty
 * strings as null. Formulas give their cached result.
 */
export async function* readXlsx(file: string, limits: WorkbookLimits = workbookLimits()): AsyncGenerator<Sheet> {
  const zip = await openZip(file, limits.partBytes);
  const workbook = await readWorkbookPart(zip, limits);
  const context: SheetContext = {
    limits,
    date1904: workbook.date1904,
    dateStyles: workbook.styles ? await readDateStyles(zip, workbook.styles, limits) : [],
    sharedStrings: workbook.sharedStrings ? await readSharedStrings(zip, workbook.sharedStrings, limits) : [],
  };
  // A sheet's rows stay readable after this generator is closed: consumers take a sheet and stop iterating.
  for (const sheet of workbook.sheets) yield { name: sheet.name, rowBatches: () => readSheetRowBatches(zip, sheet.entry, context) };
}

interface WorkbookPart {
  sheets: Array<{ name: string; entry: ZipEntry }>;
  date1904: boolean;
  styles?: ZipEntry;
  sharedStrings?: ZipEntry;
}

interface SheetContext {
  limits: WorkbookLimits;
  date1904: boolean;
  /** By cell style index (`s`): whether its number format shows a date. */
  dateStyles: boolean[];
  sharedStrings: string[];
}

/** Streams a whole part through a handler. */
async function scanPart(zip: ZipFile, entry: ZipEntry, handler: XmlHandler, limits: WorkbookLimits): Promise<void> {
  const text = await zip.open(entry);
  const scanner = new XmlScanner(handler, limits.cellChars);
  try {
    for await (const chunk of text) scanner.feed(chunk);
    scanner.end();
  } catch (error) {
    if (error instanceof XmlTokenTooLongError) throw new WorkbookLimitError(`part ${entry.name}: ${error.message}`, 'cellChars');
    throw error;
  }
}

/** Parts whose entries are all held (relationships, sheets, styles) are bounded too: a crafted one can list millions. */
function countEntry(count: number, entry: ZipEntry, max = MAX_PART_ENTRIES): void {
  if (count > max) throw new WorkbookLimitError(`part ${entry.name} lists more than ${max} entries`, 'excel');
}

function requirePart(zip: ZipFile, name: string, what: string): ZipEntry {
  const entry = zip.entry(name);
  if (!entry) throw new Error(`the ${what} part ${name} is missing from the archive`);
  return entry;
}

/** A relationship target is relative to the folder of the part that owns the .rels file, unless absolute. */
function resolveTarget(ownerPart: string, target: string): string {
  return target.startsWith('/') ? target.slice(1) : path.posix.normalize(path.posix.join(path.posix.dirname(ownerPart), target));
}

function relsPathOf(part: string): string {
  return path.posix.join(path.posix.dirname(part), '_rels', `${path.posix.basename(part)}.rels`);
}

/** Relationship targets by id and by type (the last path segment of the Type URI). */
async function readRelationships(zip: ZipFile, ownerPart: string, limits: WorkbookLimits): Promise<Array<{ id: string; type: string; target: string }>> {
  const entry = zip.entry(relsPathOf(ownerPart));
  if (!entry) return [];
  const relationships: Array<{ id: string; type: string; target: string }> = [];
  await scanPart(zip, entry, {
    capturing: false,
    open(name, tag) {
      if (name !== 'Relationship') return;
      const { Id = '', Type = '', Target = '', TargetMode } = tag.attributes();
      if (TargetMode === 'External') return;
      relationships.push({ id: Id, type: Type.slice(Type.lastIndexOf('/') + 1), target: resolveTarget(ownerPart, Target) });
      countEntry(relationships.length, entry);
    },
    close() {},
    text() {},
  }, limits);
  return relationships;
}

async function readWorkbookPart(zip: ZipFile, limits: WorkbookLimits): Promise<WorkbookPart> {
  const root = await readRelationships(zip, '', limits);
  const workbookPath = root.find((r) => r.type === 'officeDocument')?.target ?? 'xl/workbook.xml';
  const rels = await readRelationships(zip, workbookPath, limits);
  const declared: Array<{ name: string; relationship: string }> = [];
  let date1904 = false;
  const workbookEntry = requirePart(zip, workbookPath, 'workbook');
  await scanPart(zip, workbookEntry, {
    capturing: false,
    open(name, tag) {
      if (name === 'workbookPr') {
        const flag = tag.attributes().date1904;
        date1904 = flag === '1' || flag === 'true';
      } else if (name === 'sheet') {
        let sheetName = '';
        let relationship = '';
        while (tag.nextAttribute()) {
          if (tag.name === 'name') sheetName = tag.value;
          else if (tag.name.endsWith(':id')) relationship = tag.value; // r:id, whatever the prefix
        }
        declared.push({ name: sheetName, relationship });
        countEntry(declared.length, workbookEntry, MAX_SHEETS);
      }
    },
    close() {},
    text() {},
  }, limits);
  const sheets: WorkbookPart['sheets'] = [];
  // By id, the first of any repeated one (as a search would find it): no search per sheet, which is quadratic.
  const relsById = new Map<string, (typeof rels)[number]>();
  for (const rel of rels) if (!relsById.has(rel.id)) relsById.set(rel.id, rel);
  for (const { name, relationship } of declared) {
    const rel = relsById.get(relationship);
    // Chart sheets, dialog and macro sheets hold no cells.
    if (!rel || rel.type !== 'worksheet') continue;
    sheets.push({ name, entry: requirePart(zip, rel.target, `sheet "${name}"`) });
  }
  const partOfType = (type: string): ZipEntry | undefined => {
    const rel = rels.find((r) => r.type === type);
    return rel ? zip.entry(rel.target) : undefined;
  };
  return { sheets, date1904, styles: partOfType('styles'), sharedStrings: partOfType('sharedStrings') };
}

async function readDateStyles(zip: ZipFile, entry: ZipEntry, limits: WorkbookLimits): Promise<boolean[]> {
  const customFormats = new Map<number, string>();
  const styleFormats: number[] = [];
  let inCellXfs = false;
  await scanPart(zip, entry, {
    capturing: false,
    open(name, tag, selfClosing) {
      if (name === 'numFmt') {
        const { numFmtId, formatCode } = tag.attributes();
        if (numFmtId !== undefined && formatCode !== undefined) customFormats.set(Number(numFmtId), formatCode);
        countEntry(customFormats.size, entry);
      } else if (name === 'cellXfs') {
        inCellXfs = !selfClosing;
      } else if (name === 'xf' && inCellXfs) {
        styleFormats.push(Number(tag.attributes().numFmtId ?? 0));
        countEntry(styleFormats.length, entry);
      }
    },
    close(name) {
      if (name === 'cellXfs') inCellXfs = false;
    },
    text() {},
  }, limits);
  return styleFormats.map((id) => isDateNumberFormat(id, customFormats.get(id)));
}

/** The whole table is held while the workbook is read, so its entries and characters are bounded. */
async function readSharedStrings(zip: ZipFile, entry: ZipEntry, limits: WorkbookLimits): Promise<string[]> {
  const strings: string[] = [];
  let chars = 0;
  const handler = new StringItemHandler('si', limits.cellChars, (text) => {
    chars += text.length;
    if (strings.length >= limits.sharedStrings) throw new WorkbookLimitError(`shared strings: more than ${limits.sharedStrings} entries`, 'sharedStrings');
    if (chars > limits.sharedStringChars) throw new WorkbookLimitError(`shared strings: more than ${limits.sharedStringChars} characters in all`, 'sharedStringChars');
    strings.push(text);
  });
  await scanPart(zip, entry, handler, limits);
  return strings;
}

/**
 * Collects the text of a string item (`<si>` in shared strings, `<is>` in a cell): the `<t>` of each
 * rich-text run joined, phonetic guides (`<rPh>`) left out, OOXML `_xHHHH_` escapes decoded.
 */
class StringItemHandler implements XmlHandler {
  capturing = false;
  private inItem = false;
  private inPhonetic = false;
  private collected = '';

  constructor(private readonly item: string, private readonly maxChars: number, private readonly onItem: (text: string) => void) {}

  open(name: string): void {
    if (name === this.item) {
      this.inItem = true;
      this.collected = '';
    } else if (name === 't') {
      this.capturing = this.inItem && !this.inPhonetic;
    } else if (name === 'rPh') {
      this.inPhonetic = true;
    }
  }

  close(name: string): void {
    if (name === 't') {
      this.capturing = false;
    } else if (name === 'rPh') {
      this.inPhonetic = false;
    } else if (name === this.item && this.inItem) {
      this.inItem = false;
      this.onItem(decodeOoxmlEscapes(this.collected));
    }
  }

  text(data: string): void {
    this.collected += data;
    // Many runs of a few characters each add up too.
    if (this.collected.length > this.maxChars) throw new XmlTokenTooLongError(this.maxChars);
  }
}

/** Characters XML cannot carry are written as `_xHHHH_` (`_x000D_` for a carriage return; `_x005F_` for `_`). */
function decodeOoxmlEscapes(text: string): string {
  if (!text.includes('_x')) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The rows each chunk of the sheet's XML completes, as one array. */
async function* readSheetRowBatches(zip: ZipFile, entry: ZipEntry, context: SheetContext): AsyncGenerator<SheetRow[]> {
  const text = await zip.open(entry);
  const handler = new SheetHandler(context);
  const scanner = new XmlScanner(handler, context.limits.cellChars);
  for await (const chunk of text) {
    try {
      scanner.feed(chunk);
    } catch (error) {
      if (error instanceof XmlTokenTooLongError) throw new WorkbookLimitError(`${handler.position()}: ${error.message}`, 'cellChars');
      throw error;
    }
    const rows = handler.takeRows();
    if (rows.length > 0) yield rows;
    // Whatever follows the cells (merges, print settings, drawings) is never needed.
    if (handler.finished) return;
  }
  scanner.end();
}

const LT = 0x3c;
const SLASH = 0x2f;
const CHAR_C = 0x63;
const CHAR_A = 0x41;
const CHAR_Z = 0x5a;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_R = 0x72;
const CHAR_S = 0x73;
const CHAR_T = 0x74;

/**
 * Column index (A = 0) from a cell reference like `AB12` in source[start, end), or -1 when it has no
 * letters. Past XFD it stops counting (the caller refuses the cell), so `ZZZZZZZZ7` is no huge number.
 */
function columnOfRef(source: string, start: number, end: number): number {
  let column = 0;
  for (let i = start; i < end; i++) {
    const code = source.charCodeAt(i);
    if (code < CHAR_A || code > CHAR_Z) break;
    if (column <= EXCEL_MAX_COLUMNS) column = column * 26 + (code - CHAR_A + 1);
  }
  return column - 1; // -1 when no letter was read
}

/** Digits that always make an exact double (below 2^53), so reading them one by one gives what Number() gives. */
const MAX_EXACT_DIGITS = 15;

/** A whole number written in source[start, end) (0 when empty), or -1 when it holds anything but digits. */
function wholeNumber(source: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const code = source.charCodeAt(i);
    if (code < CHAR_0 || code > CHAR_9) return -1;
    value = value * 10 + (code - CHAR_0);
  }
  return value;
}

/**
 * Turns `<row>`/`<c>` elements into SheetRows. A row or cell without its `r` attribute (allowed, and
 * written by some tools) follows the previous one.
 */
class SheetHandler implements XmlHandler {
  capturing = false;
  finished = false;
  private rows: SheetRow[] = [];
  private inSheetData = false;
  private rowNumber = 0;
  private cells: Cell[] = [];
  private inCell = false;
  private column = -1;
  private cellType = '';
  private cellStyle = 0;
  private value: string | null = null;
  private readonly inline: StringItemHandler;
  private inInline = false;
  private inlineText: string | null = null;

  constructor(private readonly context: SheetContext) {
    this.inline = new StringItemHandler('is', context.limits.cellChars, (text) => (this.inlineText = text));
  }

  /** Where the scanner is, for errors: the cell being read, else the row. */
  position(): string {
    return this.inCell ? `cell ${columnName(this.column)}${this.rowNumber}` : `row ${this.rowNumber}`;
  }

  takeRows(): SheetRow[] {
    const rows = this.rows;
    this.rows = [];
    return rows;
  }

  open(name: string, tag: XmlTag, selfClosing: boolean): number | void {
    if (this.inInline) {
      this.inline.open(name);
      this.capturing = this.inline.capturing;
      return;
    }
    switch (name) {
      case 'c':
        if (this.inSheetData) {
          this.openCell(tag);
          if (!selfClosing) {
            const after = this.plainValue(tag);
            return after === undefined ? undefined : this.nextCells(tag, after);
          }
        }
        break;
      case 'v':
        if (this.inCell) {
          this.value = '';
          this.capturing = true;
        }
        break;
      case 'is':
        if (this.inCell) {
          this.inInline = true;
          this.inline.open(name);
        }
        break;
      case 'row':
        if (this.inSheetData) this.openRow(tag);
        break;
      case 'sheetData':
        this.inSheetData = true;
        break;
    }
  }

  close(name: string): void {
    if (this.inInline) {
      this.inline.close(name);
      this.capturing = this.inline.capturing;
      if (name === 'is') this.inInline = false;
      return;
    }
    switch (name) {
      case 'v':
        this.capturing = false;
        break;
      case 'c':
        if (this.inCell) this.closeCell();
        break;
      case 'row':
        if (this.inSheetData) this.rows.push({ rowNumber: this.rowNumber, cells: this.cells });
        break;
      case 'sheetData':
        this.inSheetData = false;
        this.finished = true;
        break;
    }
  }

  text(data: string): void {
    if (this.inInline) this.inline.text(data);
    else if ((this.value += data).length > this.context.limits.cellChars) throw new XmlTokenTooLongError(this.context.limits.cellChars);
  }

  private openRow(tag: XmlTag): void {
    let rowNumber = this.rowNumber + 1;
    while (tag.nextAttribute()) {
      if (tag.nameEnd - tag.nameStart === 1 && tag.source.charCodeAt(tag.nameStart) === CHAR_R) {
        const parsed = wholeNumber(tag.source, tag.valueStart, tag.valueEnd);
        if (parsed > 0) rowNumber = parsed;
        break;
      }
    }
    if (rowNumber > EXCEL_MAX_ROWS) throw new WorkbookLimitError(`row ${rowNumber} lies past Excel's last row ${EXCEL_MAX_ROWS}`, 'excel');
    this.rowNumber = rowNumber;
    this.cells = [];
    this.column = -1;
  }

  /** Attributes r, s and t are read in place: this runs once per cell. */
  private openCell(tag: XmlTag): void {
    let column = this.column + 1;
    let type = '';
    let style = 0;
    let ref: string | undefined;
    const source = tag.source;
    while (tag.nextAttribute()) {
      if (tag.nameEnd - tag.nameStart !== 1) continue;
      switch (source.charCodeAt(tag.nameStart)) {
        case CHAR_R: {
          const parsed = columnOfRef(source, tag.valueStart, tag.valueEnd);
          if (parsed >= 0) column = parsed;
          if (parsed >= EXCEL_MAX_COLUMNS) ref = source.slice(tag.valueStart, Math.min(tag.valueEnd, tag.valueStart + 40));
          break;
        }
        case CHAR_T:
          type = tag.value;
          break;
        case CHAR_S:
          style = Math.max(0, wholeNumber(source, tag.valueStart, tag.valueEnd));
          break;
      }
    }
    if (column >= EXCEL_MAX_COLUMNS) throw new WorkbookLimitError(`cell ${ref ?? `${columnName(column)}${this.rowNumber}`} lies past Excel's last column XFD`, 'excel');
    this.inCell = true;
    this.column = column;
    this.cellType = type;
    this.cellStyle = style;
    this.value = null;
    this.inlineText = null;
  }

  /**
   * The common cell `<c ...><v>123</v></c>` read in one step instead of four tokens (the reader's hot
   * path); anything else (formulas, inline strings, a cell cut by the chunk end) takes the general way.
   */
  private plainValue(tag: XmlTag): number | undefined {
    const { source, contentStart } = tag;
    if (!source.startsWith('<v>', contentStart)) return;
    const valueEnd = source.indexOf('</v>', contentStart + 3);
    if (valueEnd === -1 || !source.startsWith('</c>', valueEnd + 4)) return;
    // A whole number in a number cell (most cells of a table of counts) or a shared string's index is read
    // from its digits: no string for it (720,000 number cells in the bench's 60,000-area sheet).
    const { cellType } = this;
    const plain = cellType === '' ? this.context.dateStyles[this.cellStyle] !== true : cellType === 's';
    const digits = plain && valueEnd > contentStart + 3 && valueEnd - contentStart - 3 <= MAX_EXACT_DIGITS ? wholeNumber(source, contentStart + 3, valueEnd) : -1;
    const cell = digits < 0 ? undefined : cellType === '' ? digits : this.context.sharedStrings[digits];
    if (cell !== undefined) {
      this.inCell = false;
      if (cell !== '') this.place(cell);
      return valueEnd + 8;
    }
    this.value = decodeXmlText(source.slice(contentStart + 3, valueEnd));
    this.closeCell();
    return valueEnd + 8;
  }

  /**
   * The cells that follow a plain one straight away (`<c r="B5"><v>42</v></c><c ...`), read here instead of
   * each going back through the scanner's tag dispatch: returns where the scanner resumes, at the first thing
   * that is not such a cell (the row's end, a prefixed or self-closing tag, a tag cut by the chunk end), or
   * inside a cell whose content is not a plain value, as open() would have left it.
   */
  private nextCells(tag: XmlTag, from: number): number {
    const source = tag.source;
    let at = from;
    while (source.charCodeAt(at) === LT && source.charCodeAt(at + 1) === CHAR_C && isSpace(source.charCodeAt(at + 2))) {
      const gt = openTagEnd(source, at + 2);
      if (gt === -1 || source.charCodeAt(gt - 1) === SLASH) return at;
      tag.reset(source, at + 2, gt, gt + 1);
      this.openCell(tag);
      const after = this.plainValue(tag);
      if (after === undefined) return gt + 1;
      at = after;
    }
    return at;
  }

  private closeCell(): void {
    this.inCell = false;
    const cell = this.cellValue();
    if (cell !== null) this.place(cell);
  }

  /** Puts a value at the current column of the row. */
  private place(cell: Cell): void {
    const cells = this.cells;
    const column = this.column;
    // Rows are padded out to their last value: a lone value far right would cost its row that many cells.
    if (column >= this.context.limits.columns) {
      throw new WorkbookLimitError(`cell ${columnName(column)}${this.rowNumber} lies past column ${columnName(this.context.limits.columns - 1)}, the last a row may span`, 'columns');
    }
    if (column < cells.length) {
      cells[column] = cell;
    } else {
      while (cells.length < column) cells.push(null);
      cells.push(cell);
    }
  }

  private cellValue(): Cell {
    const { value, cellType } = this;
    switch (cellType) {
      case 's': {
        if (value === null || value === '') return null;
        const text = this.context.sharedStrings[Number(value)];
        if (text === undefined) throw new Error(`row ${this.rowNumber}: shared string ${value} does not exist`);
        return text === '' ? null : text;
      }
      case 'inlineStr':
        return this.inlineText === '' ? null : this.inlineText;
      case 'str':
        return value === null || value === '' ? null : decodeOoxmlEscapes(value);
      case 'b':
        return value === null || value === '' ? null : Number(value) !== 0;
      case 'e':
        return null;
      case 'd':
        return value === null || value === '' ? null : isoDate(value);
      default: {
        if (value === null || value === '') return null;
        const number = Number(value);
        if (Number.isNaN(number)) throw new Error(`row ${this.rowNumber}: number cell holds "${value}"`);
        return this.context.dateStyles[this.cellStyle] === true ? excelSerialToDate(number, this.context.date1904) : number;
      }
    }
  }
}

/** `t="d"` cells hold ISO 8601 text; without a zone it is a wall-clock time, read as UTC like serial dates. */
function isoDate(text: string): Date {
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(text);
  const date = new Date(text.length === 10 || hasZone ? text : `${text}Z`);
  if (Number.isNaN(date.getTime())) throw new Error(`date cell holds "${text}"`);
  return date;
}

