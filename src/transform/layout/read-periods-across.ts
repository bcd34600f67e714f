import { DataError } from '../../core/errors.js';
import { RowRuns, type Row, type RowBatch, type RowRun, type Value } from '../../core/table.js';
import type { HeadingRules } from './dataset.js';
import { HINT_INSPECT, resolveEdition, type AcrossHeader, type FoundTable, type WorkbookInput } from './find-table.js';
import { cellRef, cellText, cleanLabel, columnName, readFigure } from './labels.js';
import { periodKey, periodParsers, periodYear } from './period-parsers.js';
import { LABEL_CELL, type RowHooks } from './row-rules.js';
import type { SheetRow } from '../workbook/workbook.js';

export type AcrossTable = Extract<FoundTable, { periodAxis: 'columns' }>;

/** A body row with figures, or a row with only a label (a heading, or the wrapped half of a label). */
type BodyRow = { kind: 'figures'; rowNumber: number; ids: Record<string, string | number | null>; values: Array<number | null> } | { kind: 'label'; rowNumber: number; text: string };

export function acrossEdition(table: AcrossTable, input: WorkbookInput): number {
  const edition = resolveEdition(input, table.sheet, table.header.periods[0]?.fields);
  if (edition === undefined) {
    throw new DataError(`${table.where}: cannot tell the edition year (no year in the sheet name or the period labels)`, { hint: 'read it from the raw layer (etl extract) or rename the sheet to include the year' });
  }
  checkPeriods(table, edition);
  return edition;
}

/** Rows given out in arrays of about this many: one await per array rather than per row (720,000 rows from 60,000 areas). */
export const ROW_BATCH = 256;

/**
 * Streams one output row per (body row with a figure, period column), in arrays; holds at most one body row
 * back, to join wrapped labels. `hooks` apply the dataset's row rules: once per body row, then per output row.
 * Without rules per output row, a body row's rows go as one run (RowRuns): no object per row.
 */
export async function* readAcrossRowBatches(table: AcrossTable, input: WorkbookInput, hooks?: RowHooks): AsyncGenerator<RowBatch> {
  const { layout, header, where } = table;
  const edition = acrossEdition(table, input);
  const stopAt = new RegExp(layout.stopAt, 'i');
  const markers = new Set(layout.value.markers.map((marker) => marker.toLowerCase()));
  const ids = layout.ids.map((id) => ({ ...id, pattern: new RegExp(id.pattern), leftmost: Infinity }));
  const labelId = layout.headings?.labelField ?? layout.ids.findLast((id) => !id.optional)?.field;
  const headings = layout.headings ? new Headings(layout.headings) : undefined;
  const continuation = layout.headings?.continuation === undefined ? undefined : new RegExp(layout.headings.continuation);
  const labelField = layout.headings?.labelField;
  // Every period column parses to the same fields: the first one's give their names and order.
  const firstPeriodFields = Object.entries(header.periods[0]?.fields ?? {});
  // Each period field's values, period by period: the same arrays serve every body row.
  const periodNames = firstPeriodFields.map(([field]) => field);
  const periodColumns = periodNames.map((field) => header.periods.map((period) => period.fields[field]!));
  const valueField = layout.value.field;
  const perRow = hooks?.perRow ?? false;

  let rows: Row[] = [];
  let runs: RowRun[] = [];
  let runRows = 0;
  const toRows = (body: BodyRow): void => {
    if (body.kind === 'label') {
      headings?.add(body.text);
      return;
    }
    const fields: Record<string, Value> = { ...layout.set, ...body.ids, ...headings?.figuresRow(body.ids) };
    if (hooks && !hooks.sheetRow(fields, edition)) return;
    // The hot loop of a large sheet (12 rows per area row): one object per sheet row, in the output's field
    // order; the periods and figures vary along the run.
    const template: Record<string, Value> = { edition };
    for (const [field, value] of firstPeriodFields) template[field] = value;
    for (const field in fields) template[field] = fields[field]!;
    template[valueField] = null;
    template.source_file = table.sourceFile;
    const varying: Record<string, ArrayLike<Value>> = {};
    // A field the sheet row sets itself wins over the period's, as it always has.
    for (let k = 0; k < periodNames.length; k++) if (!(periodNames[k]! in fields)) varying[periodNames[k]!] = periodColumns[k]!;
    varying[valueField] = body.values;
    const run: RowRun = { fields: template, count: header.periods.length, varying };
    if (!perRow) {
      runs.push(run);
      runRows += run.count;
      return;
    }
    for (const row of new RowRuns([run], run.count).rows()) {
      const out = hooks!.row(row);
      if (out) rows.push(out);
    }
  };
  const full = (): boolean => rows.length >= ROW_BATCH || runRows >= ROW_BATCH;
  const take = (): RowBatch => {
    const batch = perRow ? rows : new RowRuns(runs, runRows);
    rows = [];
    runs = [];
    runRows = 0;
    return batch;
  };

  const bodyRules: BodyRules = { stopAt, markers, ids, labelId, idTexts: [], taken: [] };
  let pending: BodyRow | undefined;
  sheet: for await (const batch of table.rowBatches) {
    for (const row of batch) {
      const body = readBodyRow(row, header, bodyRules, where);
      if (body === 'stop') break sheet;
      if (!body) continue;
      // A label wrapped over two rows: ONS puts the figures on its first line in some editions, on its second in others.
      if (continuation && labelField && pending && continuation.test(labelOf(body, labelField))) {
        if (pending.kind === 'figures' && body.kind === 'label') {
          pending.ids[labelField] = joinLabels(pending.ids[labelField], body.text);
          continue;
        }
        if (pending.kind === 'label' && body.kind === 'figures') {
          body.ids[labelField] = joinLabels(pending.text, body.ids[labelField]);
          pending = undefined;
        }
      }
      if (pending) toRows(pending);
      pending = body;
      if (full()) yield take();
    }
  }
  if (pending) toRows(pending);
  if (rows.length > 0 || runRows > 0) yield take();
}

function labelOf(body: BodyRow, labelField: string): string {
  return body.kind === 'label' ? body.text : String(body.ids[labelField] ?? '');
}

function joinLabels(first: string | number | null | undefined, second: string | number | null | undefined): string {
  return `${cleanLabel(String(first ?? ''))} ${cleanLabel(String(second ?? ''))}`.trim();
}

/**
 * Headings stack up until a row with figures; the next heading after figures starts a new stack. A row's
 * section is the stack innermost first (`Deaths by age group, Males`).
 */
class Headings {
  private stack: string[] = [];
  private closed = false;
  private readonly ignore: RegExp | undefined;
  private readonly areaHeading: RegExp | undefined;

  constructor(private readonly rules: HeadingRules) {
    this.ignore = rules.ignore === undefined ? undefined : new RegExp(rules.ignore, 'i');
    this.areaHeading = rules.areas && new RegExp(rules.areas.heading, 'i');
  }

  add(text: string): void {
    const heading = cleanLabel(text);
    if (this.ignore?.test(heading)) return;
    if (this.closed) this.stack = [];
    this.closed = false;
    this.stack.push(heading);
  }

  /** The fields a row with figures gets under the current headings; the next heading starts a new stack. */
  figuresRow(ids: Record<string, string | number | null>): Record<string, string | number | null> {
    this.closed = true;
    const innermost = this.stack.at(-1);
    const fields: Record<string, string | number | null> = { [this.rules.field]: innermost === undefined ? null : this.stack.toReversed().join(', ') };
    if (this.rules.areas && innermost !== undefined && this.areaHeading!.test(innermost)) {
      fields[this.rules.areas.field] = ids[this.rules.labelField] ?? null;
      fields[this.rules.labelField] = innermost;
    }
    return fields;
  }
}

interface BodyRules {
  stopAt: RegExp;
  markers: ReadonlySet<string>;
  /** `leftmost`: the leftmost column the id has matched so far, for `depthField`. */
  ids: Array<{ field: string; pattern: RegExp; optional: boolean; clean: boolean; depthField?: string; leftmost: number }>;
  /** The id whose cell is the row's label, for reports. */
  labelId: string | undefined;
  /** Scratch arrays reused row after row (a sheet row's id cell texts; the columns ids have taken): read only during the call. */
  idTexts: string[];
  taken: number[];
}

function readBodyRow(row: SheetRow, header: AcrossHeader, rules: BodyRules, where: string): BodyRow | 'stop' | null {
  // Overwritten in place, never emptied: an array set to length 0 gives its memory back and grows again.
  const { idTexts, taken } = rules;
  let firstText = '';
  for (let c = 0; c < header.firstPeriodColumn; c++) {
    const text = cellText(row.cells[c] ?? null);
    idTexts[c] = text;
    if (firstText === '') firstText = text;
  }
  if (rules.stopAt.test(firstText)) return 'stop';

  const { periods } = header;
  // Sized once: kept with the row's run until the writer has it.
  const values = new Array<number | null>(periods.length);
  let figures = 0;
  let unexpected: { column: number; text: string } | undefined;
  for (let p = 0; p < periods.length; p++) {
    const column = periods[p]!.column;
    const cell = row.cells[column] ?? null;
    // Most figure cells hold a number: no Figure object for them (720,000 in the bench's sheet).
    if (typeof cell === 'number' && Number.isFinite(cell)) {
      values[p] = cell;
      figures++;
      continue;
    }
    const figure = readFigure(cell, rules.markers);
    values[p] = figure.kind === 'number' ? figure.value : null;
    if (figure.kind === 'number' || figure.kind === 'marker') figures++;
    if (figure.kind === 'unexpected') unexpected ??= { column, text: figure.text };
  }
  // Checked before the label test: a row whose figure cells all hold an unknown marker (`n/a`) or a
  // non-finite number (`1e400`) is a row of figures that cannot be read, not a label to drop unseen.
  if (unexpected) {
    throw new DataError(`${where}, cell ${cellRef(unexpected.column, row.rowNumber)}: "${unexpected.text}" is neither a number nor a known marker (${[...rules.markers].join(' ')})`, {
      hint: 'add the marker to value.markers of the dataset declaration if it means "not available"',
    });
  }
  // Titles, headings, notes, spacer rows and the "Released:" line carry no figure.
  if (figures === 0) {
    const text = idTexts.filter((t) => t !== '').join(' ');
    return text === '' ? null : { kind: 'label', rowNumber: row.rowNumber, text };
  }

  const ids: Record<string, string | number | null> = {};
  // The columns earlier ids took, taken[0..tookCount) (a row has a few id columns and ids: no Set or closure per row).
  let tookCount = 0;
  for (const id of rules.ids) {
    let index = -1;
    for (let i = 0; i < header.firstPeriodColumn && index === -1; i++) if (idTexts[i] !== '' && !isTaken(taken, tookCount, i) && id.pattern.test(idTexts[i]!)) index = i;
    if (index === -1) {
      if (!id.optional) {
        throw new DataError(`${where}, row ${row.rowNumber}: has figures but no ${id.field} (no cell in columns A-${columnName(header.firstPeriodColumn - 1)} matches /${id.pattern.source}/)`, { hint: HINT_INSPECT });
      }
      ids[id.field] = null;
      continue;
    }
    taken[tookCount++] = index;
    ids[id.field] = id.clean ? cleanLabel(idTexts[index]!) : idTexts[index]!;
    if (id.depthField !== undefined) {
      id.leftmost = Math.min(id.leftmost, index);
      ids[id.depthField] = index - id.leftmost;
    }
    if (id.field === rules.labelId) ids[LABEL_CELL] = cellRef(index, row.rowNumber);
  }
  return { kind: 'figures', rowNumber: row.rowNumber, ids, values };
}

function isTaken(taken: readonly number[], count: number, column: number): boolean {
  for (let t = 0; t < count; t++) if (taken[t] === column) return true;
  return false;
}

function checkPeriods(table: AcrossTable, edition: number): void {
  const { header, layout, where } = table;
  const first = periodParsers[layout.periods[0]!.parse];
  const seen = new Set<string>();
  for (const { column, label, fields } of header.periods) {
    const ref = cellRef(column, header.rowNumber);
    for (const spec of layout.periods) {
      const year = periodYear(fields[spec.field]!);
      if (spec.mustBeInEditionYear && year !== edition) {
        throw new DataError(`${where}, cell ${ref}: ${periodParsers[spec.parse].noun} "${label}" is in ${year}, outside edition ${edition}`, {
          hint: 'the edition year comes from the download folder (or the sheet name); check the file is filed under the right edition',
        });
      }
    }
    const key = periodKey(layout.periods.map((spec) => fields[spec.field]));
    if (seen.has(key)) throw new DataError(`${where}, cell ${ref}: ${first.noun} "${label}" repeats an earlier column`, { hint: HINT_INSPECT });
    seen.add(key);
  }
}
