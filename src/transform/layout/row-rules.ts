import { DataError } from '../../core/errors.js';
import type { Row, Value } from '../../core/table.js';
import type { ClassifyRule, LabelRule, LabelRules, RowRules, VocabularyEntry } from './dataset.js';
import { cleanLabel, stripNotes } from './labels.js';

/** Set by the layout readers on each row: where the row's label was printed, for reports. Never written out. */
export const LABEL_CELL = '__label_cell';

/** Warnings of one run, each said once however many rows or releases repeat it. */
export interface RunReport {
  warn(key: string, message: string): void;
}

export function createRunReport(warn: (message: string) => void = () => {}): RunReport {
  const said = new Set<string>();
  return {
    warn(key, message) {
      if (said.has(key)) return;
      said.add(key);
      warn(message);
    },
  };
}

/**
 * Lower case, notes and glued footnote digits removed, dashes and spaces unified, `&` as `and`, leading
 * zeros dropped (`01-14` = `1-14`): how printed labels are compared with a declaration's patterns.
 */
export function normaliseLabel(text: string): string {
  return isPlainLabel(text) ? text.toLowerCase() : normaliseLabelFully(text);
}

/** normaliseLabel's every rule, for any text (exported so the tests can hold the short way to it). */
export function normaliseLabelFully(text: string): string {
  return cleanLabel(stripNotes(text))
    .toLowerCase()
    .replace(/[\u2012-\u2015\u2212]/g, '-')
    .replace(/\s*-\s*/g, '-')
    .replace(/&/g, 'and')
    .replace(/\b0+(\d)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Words of letters (digits may follow a letter) or numbers without a leading zero, one space between them:
 * none of normaliseLabel's rules changes such a label but the lower case, and most area names are like
 * this. A last number of one or two digits (`Persons 5`, `E1`) reads as a footnote marker, so it takes the
 * full way. The bench's 60,000 area names went through eleven regular expressions each, twice (issue 22).
 */
const PLAIN_LABEL = /^[A-Za-z][A-Za-z0-9]*(?: (?:[A-Za-z][A-Za-z0-9]*|[1-9][0-9]*))*$/;
/** A number alone (a depth such as `name_depth`) keeps its digits: footnote digits follow a letter. */
const WHOLE_NUMBER = /^(?:0|[1-9][0-9]*)$/;

function isPlainLabel(text: string): boolean {
  const first = text.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) return WHOLE_NUMBER.test(text);
  if (!PLAIN_LABEL.test(text)) return false;
  let digits = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) break;
    digits++;
  }
  return digits === 0 || digits > 2;
}

type Fields = Record<string, Value>;

/** What the label rules make of a row's printed label. */
type LabelOutcome = { kind: 'known'; fields: Fields } | { kind: 'unknown' } | { kind: 'dropped'; reason: string };

/**
 * The normalised texts of the fields a set of rules reads, each worked out once per row and only when a rule reaches
 * it. The fields are numbered when the rules are compiled, so a row's texts sit in one array reused row after row
 * (no Map or closures per row: 60,000 sheet rows in the bench's sheet).
 */
class RowTexts {
  private readonly fields: string[] = [];
  private readonly texts: Array<string | undefined> = [];

  /** The field's number, given when the rules are compiled. */
  slot(field: string): number {
    const at = this.fields.indexOf(field);
    if (at !== -1) return at;
    this.texts.push(undefined);
    return this.fields.push(field) - 1;
  }

  /** Forgets the last row's texts. */
  newRow(): void {
    this.texts.fill(undefined);
  }

  /** The row's normalised text of field number `slot` (empty where the field has no value). */
  text(row: Readonly<Fields>, slot: number): string {
    let text = this.texts[slot];
    if (text === undefined) {
      const value = row[this.fields[slot]!];
      text = this.texts[slot] = normaliseLabel(value === null || value === undefined ? '' : String(value));
    }
    return text;
  }
}

/** Label rules with `{edition}` filled in, their patterns compiled and their lookups and sets listed (read once per sheet row). */
interface EditionRules {
  rules: LabelRules;
  edition: number;
  texts: RowTexts;
  compiled: Array<{
    rule: LabelRule;
    match: Array<{ slot: number; pattern: RegExp }>;
    lookups: Array<{ field: string; slot: number; from: string; vocabulary: readonly VocabularyEntry[]; otherwise: 'printed' | undefined }>;
    sets: Array<readonly [field: string, value: string | null]>;
  }>;
}

function editionRules(rules: LabelRules, edition: number): EditionRules {
  const fill = (text: string): string => text.replaceAll('{edition}', String(edition));
  const texts = new RowTexts();
  const compiled = rules.rules.map((rule) => ({
    rule,
    match: Object.entries(rule.match).map(([field, pattern]) => ({ slot: texts.slot(field), pattern: new RegExp(fill(pattern), 'i') })),
    lookups: Object.entries(rule.lookup ?? {}).map(([field, { from, vocabulary, otherwise }]) => ({ field, slot: texts.slot(from), from, vocabulary: rules.vocabularies[vocabulary] ?? [], otherwise })),
    sets: Object.entries(rule.set ?? {}),
  }));
  return { rules, edition, texts, compiled };
}

/** Whether a field has its value already: set by a rule, or given by the row (other than the label's own fields). */
function hasValue(rules: LabelRules, raw: Readonly<Fields>, out: Fields, field: string): boolean {
  return field in out || (raw[field] !== null && raw[field] !== undefined && !rules.from.includes(field));
}

/** What a printed label maps to under the label rules (of one edition: patterns may name `{edition}`). */
function mapLabel(labels: EditionRules, raw: Readonly<Fields>): LabelOutcome {
  const { rules, edition, compiled, texts } = labels;
  texts.newRow();
  const out: Fields = {};
  for (let r = 0; r < compiled.length; r++) {
    const { rule, match, lookups, sets } = compiled[r]!;
    let matches = true;
    for (let m = 0; m < match.length && matches; m++) matches = match[m]!.pattern.test(texts.text(raw, match[m]!.slot));
    if (!matches) continue;
    if (rule.drop !== undefined) return { kind: 'dropped', reason: rule.drop.replaceAll('{edition}', String(edition)) };
    for (let l = 0; l < lookups.length; l++) {
      const { field, slot, from, vocabulary, otherwise } = lookups[l]!;
      if (hasValue(rules, raw, out, field)) continue;
      const entry = lookUp(vocabulary, texts.text(raw, slot));
      if (!entry) {
        if (otherwise !== 'printed') return UNKNOWN;
        out[field] = printedText(raw[from]);
        continue;
      }
      out[field] = entry.value;
      if (entry.set) for (const [extra, value] of Object.entries(entry.set)) if (!hasValue(rules, raw, out, extra)) out[extra] = value;
    }
    for (const [field, value] of sets) if (!hasValue(rules, raw, out, field)) out[field] = value;
  }
  return rules.required in out || hasValue(rules, raw, out, rules.required) ? { kind: 'known', fields: out } : UNKNOWN;
}

const UNKNOWN: LabelOutcome = { kind: 'unknown' };

/** Each vocabulary's entries by normalised printed text (built once: a sheet row looks up one key, not every entry). */
const vocabularyIndexes = new WeakMap<readonly VocabularyEntry[], Map<string, VocabularyEntry>>();

function lookUp(entries: readonly VocabularyEntry[], text: string): VocabularyEntry | undefined {
  let index = vocabularyIndexes.get(entries);
  if (!index) {
    index = new Map();
    for (const entry of entries) {
      for (const printed of entry.value === null ? entry.printed : [...entry.printed, entry.value]) {
        const key = normaliseLabel(printed);
        if (!index.has(key)) index.set(key, entry);
      }
    }
    vocabularyIndexes.set(entries, index);
  }
  return index.get(text);
}

/** Text already printed with single spaces between words (most labels) is kept as it is: no regex, no copy. */
const SINGLE_SPACED = /^\S+(?: \S+)*$/;

function printedText(value: Value | undefined): string | null {
  if (typeof value !== 'string') return null;
  if (SINGLE_SPACED.test(value)) return value;
  return value.trim() !== '' ? value.replace(/\s+/g, ' ').trim() : null;
}

/** The label as printed: the `from` fields joined outer first. */
export function printedLabel(rules: LabelRules, raw: Readonly<Fields>): string {
  let label = '';
  for (const field of rules.from) {
    const text = printedText(raw[field]);
    if (text !== null) label = label === '' ? text : `${label} / ${text}`;
  }
  return label;
}

/** Hooks a layout reader calls: `sheetRow` once per sheet row, then `row` for each output row it gives. */
export interface RowHooks {
  /**
   * The rules that depend only on the sheet row (split, labels, classify), applied once to the fields a
   * sheet row gives all its periods (areas across 12 months are classified once, not 12 times). Label
   * patterns may name the `edition`.
   */
  sheetRow(fields: Fields, edition: number): boolean;
  /**
   * The rules that depend on the figure (values, unique); null leaves out a row repeating one already read,
   * and every row of a sheet row whose label a rule drops.
   */
  row(row: Fields): Fields | null;
  /**
   * Whether row() has rules of its own (values, unique). Without them it gives each row as it is, or null
   * for every row of a sheet row whose sheetRow() said false (its label dropped), so a reader may skip it.
   */
  readonly perRow: boolean;
}

/**
 * Applies a dataset's row rules to the rows of one workbook (`where` names its file and sheet). Keeps
 * per-workbook state (repeated names, rows already seen); warnings go to the run's report.
 */
export function createRowRules(rules: RowRules | undefined, report: RunReport, keepLabelCell = false): (where: string) => RowHooks {
  const classifiers = (rules?.classify ?? []).map((rule) => classifier(rule));
  const splits = (rules?.split ?? []).map((split) => ({ ...split, separator: new RegExp(split.separator) }));
  const seen = new Map<string, Value>();
  let labels: EditionRules | undefined;
  return (where) => {
    // The label cell of the sheet row being read, and whether its label is dropped; its output rows follow its sheetRow call.
    let cell: Value | undefined;
    let dropped = false;
    return {
      perRow: rules?.values !== undefined || rules?.unique !== undefined,
      sheetRow(fields, edition) {
        cell = fields[LABEL_CELL];
        if (!keepLabelCell) delete fields[LABEL_CELL];
        for (const split of splits) splitCodes(fields, split.field, split.separator, split.rest);
        if (rules?.labels) {
          if (labels?.edition !== edition) labels = editionRules(rules.labels, edition);
          dropped = !applyLabels(labels, fields, cell, where, report);
          if (dropped) return false;
        }
        for (const classify of classifiers) classify(fields);
        return true;
      },
      row(row) {
        if (dropped) return null;
        if (rules?.values) routeValue(rules.values, row, cell, where);
        if (!rules?.unique) return row;
        const { measure } = rules.values ?? {};
        if (measure !== undefined && row[measure] === null) return row;
        const key = JSON.stringify(rules.unique.map((field) => (row[field] instanceof Date ? (row[field] as Date).toISOString() : (row[field] ?? null))));
        const figure = rules.values ? (row[rules.values.count] ?? row[rules.values.average] ?? null) : null;
        if (seen.has(key)) {
          if (seen.get(key) === figure) return null;
          report.warn(`conflict ${where} ${key}`, `${where}: ${String(row[rules.labels?.printed ?? ''] ?? key)} prints ${String(figure)} where another table of the workbook printed ${String(seen.get(key))}; both rows kept`);
          return row;
        }
        seen.set(key, figure);
        return row;
      },
    };
  };
}

function splitCodes(row: Fields, field: string, separator: RegExp, rest: string): void {
  const text = row[field];
  if (typeof text !== 'string' || !separator.test(text)) {
    row[rest] = null;
    return;
  }
  const [first, ...others] = text.split(separator).map((part) => part.trim()).filter((part) => part !== '');
  row[field] = first ?? null;
  row[rest] = others.length > 0 ? others.join(', ') : null;
}

/** Maps the row's printed label to its canonical fields; false when a rule drops the row (said once per label). */
function applyLabels(labels: EditionRules, row: Fields, cell: Value | undefined, where: string, report: RunReport): boolean {
  const { rules } = labels;
  const printed = printedLabel(rules, row);
  const mapped = mapLabel(labels, row);
  const at = (): string => `${where}${cell ? `, cell ${String(cell)}` : ''}`;
  if (mapped.kind === 'dropped') {
    report.warn(`dropped ${printed}`, `${at()}: label "${printed}" ${mapped.reason}; left out`);
    return false;
  }
  for (const field of rules.from) if (field !== rules.printed && !rules.canonical.includes(field)) delete row[field];
  row[rules.printed] = printed;
  if (mapped.kind === 'unknown') {
    for (const field of rules.canonical) row[field] = null;
    report.warn(`label ${printed}`, `${at()}: label "${printed}" is not in the declaration; kept with ${rules.canonical.join(', ')} left null`);
    return true;
  }
  for (const field of rules.canonical) if (row[field] === undefined || row[field] === null) row[field] = mapped.fields[field] ?? null;
  return true;
}

function classifier(rule: ClassifyRule): (row: Fields) => void {
  const texts = new RowTexts();
  const when = rule.when.map(({ value, match }) => ({ value, match: Object.entries(match).map(([field, pattern]) => ({ field, slot: texts.slot(field), pattern: new RegExp(pattern, 'i') })) }));
  const repeatedKey = rule.repeated?.key.map((field) => ({ field, slot: texts.slot(field) }));
  const seen = new Set<string>();
  return (row) => {
    // Normalised only when a rule reaches the field: most rows are decided by their code.
    texts.newRow();
    let value = rule.otherwise;
    candidates: for (let c = 0; c < when.length; c++) {
      const match = when[c]!.match;
      for (let m = 0; m < match.length; m++) {
        const { field, slot: at, pattern } = match[m]!;
        if (row[field] === null || row[field] === undefined || !pattern.test(texts.text(row, at))) continue candidates;
      }
      value = when[c]!.value;
      break;
    }
    if (rule.repeated && repeatedKey && value === rule.repeated.from) {
      const key = JSON.stringify(repeatedKey.map(({ field, slot: at }) => (row[field] instanceof Date ? (row[field] as Date).toISOString() : texts.text(row, at))));
      if (seen.has(key)) value = rule.repeated.to;
      else seen.add(key);
    }
    row[rule.field] = value;
  };
}

function routeValue(routing: NonNullable<RowRules['values']>, row: Fields, cell: Value | undefined, where: string): void {
  const figure = row[routing.from] ?? null;
  if (routing.from !== routing.count && routing.from !== routing.average) delete row[routing.from];
  const measure = row[routing.measure];
  const average = typeof measure === 'string' ? routing.averages.includes(measure) : typeof figure === 'number' && !Number.isInteger(figure);
  if (!average && typeof figure === 'number' && !Number.isInteger(figure)) {
    throw new DataError(`${where}${cell ? `, row of ${String(cell)}` : ''}: ${String(measure)} is a count but prints ${figure}`, {
      hint: `list the measure under rowRules.values.averages of the dataset declaration if it is an average`,
    });
  }
  row[routing.count] = average ? null : figure;
  row[routing.average] = average ? figure : null;
}
