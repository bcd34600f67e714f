import { DataError } from '../../core/errors.js';
import { rowsOf, type Row, type RowBatch, type Value } from '../../core/table.js';
import type { WorkbookDataset } from './dataset.js';
import { NoTableError, findTable, type FoundTable, type LayoutAttempt, type WorkbookInput } from './find-table.js';
import { LABEL_CELL, createRowRules, createRunReport, type RunReport } from './row-rules.js';
import { cellRef, columnName } from './labels.js';
import { periodKey, periodParsers } from './period-parsers.js';
import { ROW_BATCH, acrossEdition, readAcrossRowBatches } from './read-periods-across.js';
import { openDownBody, readDownRows } from './read-periods-down.js';

export type { WorkbookInput } from './find-table.js';

/** What the engine found in a workbook, for `etl inspect` and tests. */
export interface TableLayout {
  /** The declared layout that matched. */
  layout: string;
  sheet: string;
  /** Sheets read up to and including the table sheet. */
  sheets: string[];
  headerRow: number;
  edition: number;
  /** `columns`: a column per period (unpivoted across); `rows`: a row per period (value columns unpivoted). */
  periodAxis: 'columns' | 'rows';
  /** Columns that identify a body row: its labels (periods across) or its period cells (periods down). */
  idColumns: string[];
  /** Periods across: each period column, its label and the period it parsed to. */
  periodColumns: Array<{ cell: string; label: string; period: string }>;
  /** Periods down: each value column taken, and the fields its rows get. */
  valueColumns: Array<{ cell: string; label: string; fields: Readonly<Record<string, string>> }>;
  /** Layouts tried that did not match, with the rule each failed. */
  rejected: LayoutAttempt[];
}

export interface ReadOptions {
  /** Where the run's warnings go (placeholder columns, unknown labels), each said once. */
  report?: RunReport;
  /** Keep each row's label cell (`LABEL_CELL`), for `etl inspect`. */
  keepLabelCell?: boolean;
}

/**
 * Streams the tidy rows of one workbook, whichever declared layout it has, then those of the layout's
 * companions (other sheets of the same workbook), every row through the dataset's row rules.
 */
export async function* readWorkbookTable(input: WorkbookInput, dataset: WorkbookDataset, options: ReadOptions = {}): AsyncGenerator<Row> {
  for await (const batch of readWorkbookTableBatches(input, dataset, options)) yield* rowsOf(batch);
}

/** readWorkbookTable's rows in arrays or runs (one await per batch, not per row), for writeParquet. */
export async function* readWorkbookTableBatches(input: WorkbookInput, dataset: WorkbookDataset, options: ReadOptions = {}): AsyncGenerator<RowBatch> {
  const report = options.report ?? createRunReport();
  const table = await findTable(input, dataset);
  const hooksFor = createRowRules(dataset.rowRules, report, options.keepLabelCell);
  const read = (found: FoundTable, from: WorkbookInput): AsyncGenerator<RowBatch> =>
    found.periodAxis === 'columns' ? readAcrossRowBatches(found, from, hooksFor(found.where)) : inBatches(readDownRows(found, from, hooksFor(found.where)));
  let edition: number | undefined;
  try {
    if (table.periodAxis === 'columns') for (const placeholder of table.header.placeholders) report.warn(placeholder, placeholder);
    if (table.periodAxis === 'columns') {
      yield* read(table, input);
    } else {
      for await (const rows of read(table, input)) {
        edition ??= rowsOf(rows)[0]?.edition as number | undefined;
        yield rows;
      }
    }
  } finally {
    await table.close();
  }
  // Companions belong to weeks-down layouts (small tables): the edition comes from the main table's rows.
  for (const companion of table.layout.companions ?? []) {
    const from = { ...input, edition: edition ?? input.edition };
    const other = await findTable(from, { ...dataset, layouts: [companion] }).catch((error: unknown) => {
      if (!(error instanceof NoTableError)) throw error;
      report.warn(`companion ${table.sourceFile} ${companion.name}`, `${table.sourceFile}: no sheet for "${companion.name}" (${error.message}); its rows are missing from this edition`);
      return undefined;
    });
    if (!other) continue;
    // A companion lands whole or not at all: a sheet that does not read as declared costs its rows and a
    // warning, not the edition's main table. These tables are small (weeks x columns), so they are held.
    const rows: Row[] = [];
    try {
      for await (const batch of read(other, from)) rows.push(...rowsOf(batch));
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      report.warn(`companion ${other.where}`, `${other.where} ("${companion.name}") left out: ${error.message}`);
      continue;
    } finally {
      await other.close();
    }
    if (rows.length > 0) yield rows;
  }
}

async function* inBatches(rows: AsyncIterable<Row>): AsyncGenerator<Row[]> {
  let batch: Row[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= ROW_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * What the row rules make of a workbook, for `etl inspect`: each distinct printed label with its cell and
 * the canonical values it maps to (null fields when unknown; labels kept as printed are not listed), how
 * many rows of the first period each derived value (e.g. each geo_level) has, and the warnings a
 * transform of it gives (labels left out, placeholder columns).
 */
export async function describeRowRules(input: WorkbookInput, dataset: WorkbookDataset): Promise<RowRulesSummary> {
  const labels = dataset.rowRules?.labels;
  const classified = (dataset.rowRules?.classify ?? []).map((rule) => rule.field);
  const summary: RowRulesSummary = { labels: [], classified: Object.fromEntries(classified.map((field) => [field, {}])), warnings: [] };
  if (!labels && classified.length === 0) return summary;
  const report = createRunReport((message) => summary.warnings.push(message));
  const periodFields = dataset.layouts.flatMap((layout) => layout.periods.map((period) => period.field));
  const found = new Set<string>();
  let firstPeriod: string | undefined;
  for await (const row of readWorkbookTable(input, dataset, { keepLabelCell: true, report })) {
    const period = periodKey(periodFields.map((field) => row[field]));
    firstPeriod ??= period;
    if (period === firstPeriod) for (const field of classified) summary.classified[field]![String(row[field])] = (summary.classified[field]![String(row[field])] ?? 0) + 1;
    const printed = labels ? String(row[labels.printed] ?? '') : '';
    if (!labels || found.has(printed)) continue;
    found.add(printed);
    const canonical = Object.fromEntries(labels.canonical.map((field) => [field, row[field] ?? null]));
    if (Object.values(canonical).every((value) => value === printed)) continue;
    summary.labels.push({ cell: String(row[LABEL_CELL] ?? ''), printed, canonical });
  }
  return summary;
}

export interface RowRulesSummary {
  labels: LabelMapping[];
  /** Derived field -> value -> rows of the first period. */
  classified: Record<string, Record<string, number>>;
  warnings: string[];
}

export interface LabelMapping {
  cell: string;
  printed: string;
  canonical: Record<string, Value>;
}

/** Detects the table without reading the body (beyond one row, for a weeks-down table): what `etl inspect` shows. */
export async function detectTableLayout(input: WorkbookInput, dataset: WorkbookDataset): Promise<TableLayout> {
  const table = await findTable(input, dataset);
  const common = { layout: table.layout.name, sheet: table.sheet, sheets: table.sheets, headerRow: table.header.rowNumber, rejected: table.rejected };
  try {
    if (table.periodAxis === 'columns') {
      const across = table;
      const format = (fields: Record<string, unknown>): string =>
        across.layout.periods.map((spec) => periodParsers[spec.parse].format(fields[spec.field] as Date | number)).join(' ');
      return {
        ...common,
        edition: acrossEdition(across, input),
        periodAxis: 'columns',
        idColumns: Array.from({ length: across.header.firstPeriodColumn }, (_, c) => columnName(c)),
        periodColumns: across.header.periods.map((p) => ({ cell: cellRef(p.column, across.header.rowNumber), label: p.label, period: format(p.fields) })),
        valueColumns: [],
      };
    }
    const down = table;
    const { edition, valueColumns } = await openDownBody(down, input);
    return {
      ...common,
      edition,
      periodAxis: 'rows',
      idColumns: down.header.periods.map((p) => columnName(p.column)),
      periodColumns: [],
      valueColumns: valueColumns.map((v) => ({ cell: v.cell, label: v.label, fields: v.set })),
    };
  } finally {
    await table.close();
  }
}
