import path from 'node:path';
import { DataError } from '../core/errors.js';
import type { Row } from '../core/table.js';
import type { WorkbookDataset } from './dataset.js';
import { cellNumber, cellRef, cellText, cleanLabel, parseMonthLabel, type MonthPeriod } from './labels.js';
import { readWorkbook, type Cell, type Sheet, type SheetRow } from './workbook.js';

export interface WorkbookInput {
  file: string;
  /** Edition year; when unknown (a workbook given directly) it is read from the sheet name. */
  edition?: number;
}

/** What the engine found in a workbook, for `etl inspect` and for error messages. */
export interface TableLayout {
  sheet: string;
  sheets: string[];
  headerRow: number;
  idColumns: string[];
  periodColumns: Array<{ cell: string; label: string; period: string }>;
  edition: number;
}

interface CompiledDataset {
  dataset: WorkbookDataset;
  sheetName: RegExp;
  stopAt: RegExp;
  ids: Array<{ field: string; pattern: RegExp; optional: boolean; clean: boolean }>;
  markers: Set<string>;
}

const compiledCache = new WeakMap<WorkbookDataset, CompiledDataset>();

function compile(dataset: WorkbookDataset): CompiledDataset {
  let compiled = compiledCache.get(dataset);
  if (!compiled) {
    compiled = {
      dataset,
      sheetName: new RegExp(dataset.sheet.namePattern, 'i'),
      stopAt: new RegExp(dataset.stopAt, 'i'),
      ids: dataset.ids.map((id) => ({ ...id, pattern: new RegExp(id.pattern) })),
      markers: new Set(dataset.value.markers.map((marker) => marker.toLowerCase())),
    };
    compiledCache.set(dataset, compiled);
  }
  return compiled;
}

/** Streams one output row per (table row with a figure, period column) of the workbook's table sheet. */
export async function* readWorkbookTable(input: WorkbookInput, dataset: WorkbookDataset): AsyncGenerator<Row> {
  const compiled = compile(dataset);
  const sourceFile = path.basename(input.file);
  const { sheet, rows } = await openTableSheet(input.file, compiled);
  const where = `${sourceFile}, sheet "${sheet.name}"`;
  const header = await findHeader(rows, compiled, where);
  const edition = input.edition ?? editionFromSheetName(sheet.name) ?? header.periods[0]!.period.year;
  checkPeriods(header, edition, compiled, where);

  for (let next = await rows.next(); !next.done; next = await rows.next()) {
    const row = next.value;
    const record = readBodyRow(row, header, compiled, where);
    if (record === 'stop') break;
    if (!record) continue;
    for (let i = 0; i < header.periods.length; i++) {
      const { period } = header.periods[i]!;
      yield {
        edition,
        [dataset.periods.field]: new Date(Date.UTC(period.year, period.month - 1, 1)),
        ...record.ids,
        [dataset.value.field]: record.values[i] ?? null,
        source_file: sourceFile,
      };
    }
  }
  await rows.return(undefined);
}

/** Detects the table without reading the body: what `etl inspect` shows. */
export async function detectTableLayout(input: WorkbookInput, dataset: WorkbookDataset): Promise<TableLayout> {
  const compiled = compile(dataset);
  const sourceFile = path.basename(input.file);
  const { sheet, rows, sheets } = await openTableSheet(input.file, compiled);
  const where = `${sourceFile}, sheet "${sheet.name}"`;
  const header = await findHeader(rows, compiled, where);
  await rows.return(undefined);
  const edition = input.edition ?? editionFromSheetName(sheet.name) ?? header.periods[0]!.period.year;
  return {
    sheet: sheet.name,
    sheets,
    headerRow: header.rowNumber,
    idColumns: Array.from({ length: header.firstPeriodColumn }, (_, c) => cellRef(c, header.rowNumber).replace(/\d+$/, '')),
    periodColumns: header.periods.map((p) => ({ cell: cellRef(p.column, header.rowNumber), label: p.label, period: `${p.period.year}-${String(p.period.month).padStart(2, '0')}` })),
    edition,
  };
}

async function openTableSheet(file: string, compiled: CompiledDataset): Promise<{ sheet: Sheet; rows: AsyncGenerator<SheetRow>; sheets: string[] }> {
  const sheets: string[] = [];
  const workbook = readWorkbook(file);
  for await (const sheet of workbook) {
    sheets.push(sheet.name);
    if (compiled.sheetName.test(sheet.name)) {
      // The workbook generator stays suspended here; the remaining sheets are never parsed.
      const rows = (async function* () {
        try {
          yield* sheet.rows();
        } finally {
          await workbook.return(undefined);
        }
      })();
      return { sheet, rows, sheets };
    }
  }
  throw new DataError(`${path.basename(file)}: no sheet name matches /${compiled.dataset.sheet.namePattern}/i (sheets: ${sheets.map((s) => `"${s}"`).join(', ')})`, {
    hint: `run \`etl inspect ${file}\`; if the table sheet was renamed, update sheet.namePattern of dataset ${compiled.dataset.name}`,
  });
}

interface Header {
  rowNumber: number;
  firstPeriodColumn: number;
  periods: Array<{ column: number; label: string; period: MonthPeriod }>;
}

async function findHeader(rows: AsyncGenerator<SheetRow>, compiled: CompiledDataset, where: string): Promise<Header> {
  const { searchRows, minPeriodColumns } = compiled.dataset.header;
  for (let next = await rows.next(); !next.done && next.value.rowNumber <= searchRows; next = await rows.next()) {
    const row = next.value;
    const periods: Header['periods'] = [];
    row.cells.forEach((cell, column) => {
      const period = parseMonthLabel(cell);
      if (period) periods.push({ column, label: cellText(cell), period });
    });
    if (periods.length < minPeriodColumns) continue;
    const firstPeriodColumn = periods[0]!.column;
    // Every non-empty header cell right of the first month must be a month too: a stray label means the layout moved.
    row.cells.forEach((cell, column) => {
      if (column > firstPeriodColumn && cellText(cell) !== '' && !periods.some((p) => p.column === column)) {
        throw new DataError(`${where}, cell ${cellRef(column, row.rowNumber)}: header label "${cellText(cell)}" is not a month label like "Jan-19"`, {
          hint: 'run `etl inspect` on the workbook and check the dataset declaration',
        });
      }
    });
    return { rowNumber: row.rowNumber, firstPeriodColumn, periods };
  }
  throw new DataError(`${where}: no header row with at least ${minPeriodColumns} month labels (like "Jan-19") in rows 1-${searchRows}`, {
    hint: 'run `etl inspect` on the workbook; the table may have moved beyond header.searchRows',
  });
}

function checkPeriods(header: Header, edition: number, compiled: CompiledDataset, where: string): void {
  const seen = new Set<string>();
  for (const { column, label, period } of header.periods) {
    const ref = cellRef(column, header.rowNumber);
    if (compiled.dataset.periods.mustBeInEditionYear && period.year !== edition) {
      throw new DataError(`${where}, cell ${ref}: month label "${label}" is in ${period.year}, outside edition ${edition}`, {
        hint: 'the edition year comes from the download folder (or the sheet name); check the file is filed under the right edition',
      });
    }
    const key = `${period.year}-${period.month}`;
    if (seen.has(key)) throw new DataError(`${where}, cell ${ref}: month label "${label}" repeats an earlier column`);
    seen.add(key);
  }
}

type BodyRecord = { ids: Record<string, string | null>; values: Array<number | null> };

function readBodyRow(row: SheetRow, header: Header, compiled: CompiledDataset, where: string): BodyRecord | 'stop' | null {
  const idTexts: string[] = [];
  for (let c = 0; c < header.firstPeriodColumn; c++) idTexts.push(cellText(row.cells[c] ?? null));
  const firstText = idTexts.find((text) => text !== '') ?? '';
  if (compiled.stopAt.test(firstText)) return 'stop';

  const values: Array<number | null> = [];
  let figures = 0;
  let unparsed: { column: number; cell: Cell } | undefined;
  for (const { column } of header.periods) {
    const cell = row.cells[column] ?? null;
    const number = cellNumber(cell);
    if (number !== null) {
      figures++;
      values.push(number);
      continue;
    }
    const text = cellText(cell);
    if (text !== '' && !compiled.markers.has(text.toLowerCase())) unparsed ??= { column, cell };
    values.push(null);
    if (text !== '' && compiled.markers.has(text.toLowerCase())) figures++;
  }
  // Titles, notes, spacer rows and the "Released:" line carry no figure: they never become output.
  if (figures === 0) return null;
  if (unparsed) {
    throw new DataError(`${where}, cell ${cellRef(unparsed.column, row.rowNumber)}: "${cellText(unparsed.cell)}" is neither a number nor a known marker (${[...compiled.markers].join(' ')})`, {
      hint: 'add the marker to value.markers of the dataset declaration if it means "not available"',
    });
  }

  const ids: Record<string, string | null> = {};
  const taken = new Set<number>();
  for (const id of compiled.ids) {
    const index = idTexts.findIndex((text, i) => !taken.has(i) && text !== '' && id.pattern.test(text));
    if (index === -1) {
      if (!id.optional) {
        throw new DataError(`${where}, row ${row.rowNumber}: has figures but no ${id.field} in columns A-${cellRef(header.firstPeriodColumn - 1, row.rowNumber).replace(/\d+$/, '')}`, {
          hint: 'run `etl inspect` on the workbook and check the ids of the dataset declaration',
        });
      }
      ids[id.field] = null;
      continue;
    }
    taken.add(index);
    ids[id.field] = id.clean ? cleanLabel(idTexts[index]!) : idTexts[index]!;
  }
  return { ids, values };
}

function editionFromSheetName(name: string): number | undefined {
  const match = /\b(19|20)\d{2}\b/.exec(name);
  return match ? Number(match[0]) : undefined;
}
