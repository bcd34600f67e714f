import type { Column } from '../../core/table.js';

/**
 * A workbook dataset is declared as data: how to find the table sheet, its header row, which cells are
 * ids and which hold figures, which way periods run, and how labels become periods. The engine
 * (read-workbook-table.ts) has no per-year code: a new edition that stays within these rules needs no
 * code change, and a declaration can be a JSON file (dataset-file.ts validates it).
 */
export interface WorkbookDataset {
  /** CLI id, e.g. `monthly-deaths`. */
  name: string;
  /** Bumped when the output columns change meaning (1 when omitted); `etl datasets` shows it. */
  version?: number;
  title: string;
  /** The dataset landing page that lists one workbook per edition. */
  pageUrl: string;
  /**
   * When the raw layer holds several files for one edition: `newest-file` reads only the newest;
   * `newest-per-period` reads them all and takes each period from the newest file with figures for it.
   */
  releases: ReleasePolicy;
  /** Tried in order on each sheet: the first sheet that passes a layout's sheet and header rules is the table. */
  layouts: readonly WorkbookLayout[];
  /** Output columns, in order. `edition` and `source_file` are filled by the engine. */
  columns: readonly Column[];
  /** How the fields read from the sheet become the output's tidy fields (see row-rules.ts). */
  rowRules?: RowRules;
}

/**
 * Declared rules applied to every row read, in this order: `split`, `labels`, `classify`, `values`,
 * `unique`. They turn printed text into canonical values without per-edition code.
 */
export interface RowRules {
  /** A cell holding several codes (`K04000001, J99000001`): the first stays in `field`, the rest go to `rest`. */
  split?: ReadonlyArray<{ field: string; separator: string; rest: string }>;
  /** Printed labels mapped to canonical fields. */
  labels?: LabelRules;
  /** A field derived from the first rule whose patterns all match (e.g. `geo_level` from the code prefix). */
  classify?: readonly ClassifyRule[];
  /** The figure goes to the column its measure's kind names (counts INT64, averages DOUBLE). */
  values?: ValueRouting;
  /** Rows whose fields repeat an earlier row's (a figure printed in two tables) are left out once; a different figure is kept and warned about. */
  unique?: readonly string[];
}

/**
 * Canonical values from printed labels. Text is compared normalised (lower case, notes and footnote digits
 * removed, dashes and spaces unified, leading zeros dropped: `01-14` = `1-14`). Rules apply in order and
 * the first to set a field wins; a field the sheet printed (e.g. a GSS code) is never overwritten. A
 * matching rule with `drop` leaves the row out instead.
 */
export interface LabelRules {
  /** Gets the printed label, for lineage: the `from` fields joined with " / ", outer first. */
  printed: string;
  from: readonly string[];
  /** The label is known when a rule sets this field; an unknown label keeps every `canonical` field null and is reported once with its cell. */
  required: string;
  canonical: readonly string[];
  rules: readonly LabelRule[];
  /** Canonical values with the ways they are printed; `value` null means "all" (e.g. `All ages` is no age band). */
  vocabularies: Readonly<Record<string, readonly VocabularyEntry[]>>;
}

export interface LabelRule {
  /**
   * Field -> case-insensitive regex on its normalised text; every one must match (an empty match applies
   * to every row). `{edition}` stands for the edition year, e.g. `\\((?!{edition}\\))\\d{4}\\)` is a year in
   * brackets other than the edition's.
   */
  match: Readonly<Record<string, string>>;
  set?: Readonly<Record<string, string | null>>;
  /**
   * Field -> the vocabulary entry a raw field's text is printed as; no entry makes the label unknown, or
   * with `otherwise: 'printed'` gives the field the raw text as printed (whitespace collapsed).
   */
  lookup?: Readonly<Record<string, { from: string; vocabulary: string; otherwise?: 'printed' }>>;
  /**
   * The rows of a matching label are left out, with one warning per label saying `label "…" <drop>; left
   * out` (`{edition}` is filled in): figures that are not the edition's own, such as another year's
   * printed beside them for comparison.
   */
  drop?: string;
}

export interface VocabularyEntry {
  value: string | null;
  printed: readonly string[];
  /** Fields that come with this value (e.g. a region's GSS code). */
  set?: Readonly<Record<string, string>>;
}

export interface ClassifyRule {
  field: string;
  /** Every value the field may take. */
  values: readonly string[];
  when: ReadonlyArray<{ value: string; match: Readonly<Record<string, string>> }>;
  otherwise: string;
  /** A row whose `key` fields repeat an earlier row's with value `from` gets `to` (WALES printed again among the regions). */
  repeated?: { key: readonly string[]; from: string; to: string };
}

export interface ValueRouting {
  /** The raw figure field the layouts fill. */
  from: string;
  /** The field holding the measure, and which measures are which kind. */
  measure: string;
  averages: readonly string[];
  /** Counts must be whole numbers; an unknown measure's figure goes to `count` when whole, else to `average`. */
  count: string;
  average: string;
}

export const RELEASE_POLICIES = ['newest-file', 'newest-per-period'] as const;
export type ReleasePolicy = (typeof RELEASE_POLICIES)[number];

/** Named parsers that turn a period label or cell into a value (see period-parsers.ts). */
export const PERIOD_PARSERS = ['month-label', 'week-number', 'date'] as const;
export type PeriodParserName = (typeof PERIOD_PARSERS)[number];

export type WorkbookLayout = PeriodsAcrossLayout | PeriodsDownLayout;

interface LayoutRules {
  /** Shown by `etl datasets`, `etl inspect` and in errors, e.g. `weeks across`. */
  name: string;
  /** Candidate sheets: names matching this case-insensitive regex. */
  sheet: { namePattern: string };
  /** The figure: which field it goes in, and cell texts that mean "no figure" (the value is then null). */
  value: { field: string; markers: readonly string[] };
  /** Body rows from the first one whose first non-empty cell matches this are notes, not table. */
  stopAt: string;
  /** Fields with the same text on every row, unless a row sets them itself (e.g. area = England and Wales). */
  set?: Readonly<Record<string, string>>;
  /** Read too, from the same workbook, when this layout matched: more of the table on other sheets (by age, by region). */
  companions?: readonly WorkbookLayout[];
}

/**
 * Periods run across the columns (a row per area or measure, a column per month or week): each body row
 * is unpivoted into one output row per period column.
 */
export interface PeriodsAcrossLayout extends LayoutRules {
  periodAxis: 'columns';
  header: {
    /** How many rows from the top to search for the header row. */
    searchRows: number;
    /** The header row is the first with at least this many labels that parse (and the declared label). */
    minPeriods: number;
  };
  /**
   * Rows that give each period column its fields: `offset` 0 is the header row itself, 1 the row below, …
   * `label`, when given, must match a cell left of the period columns in that row (e.g. `^Week ended`).
   */
  periods: ReadonlyArray<AcrossPeriod>;
  /**
   * Fields taken from the id cells (the cells left of the first period column). Each takes the first
   * id cell matching its pattern that no earlier field took; an optional field may find none.
   */
  ids: ReadonlyArray<IdRule>;
  /** Rows with a label but no figures are headings for the rows below them (omit: such rows are skipped). */
  headings?: HeadingRules;
}

export interface AcrossPeriod {
  field: string;
  parse: PeriodParserName;
  offset: number;
  label?: string;
  mustBeInEditionYear?: boolean;
  /**
   * `trailing`: columns after the edition's run of periods whose cell in this row does not parse (a `53`
   * column printed in a 52-week year, its week-ended cell a note such as `2020`) are placeholders, left out
   * with a warning naming the cell. An unreadable cell inside the run still fails.
   */
  placeholders?: 'trailing';
}

export interface IdRule {
  field: string;
  pattern: string;
  optional: boolean;
  clean: boolean;
  /** Gets the matched cell's column counted from the leftmost column this id has used (names printed over level columns: 0, 1, 2). */
  depthField?: string;
}

export interface HeadingRules {
  /** Gets the headings above a row, innermost first, joined with ", " (e.g. `Deaths by age group, Males`). */
  field: string;
  /** The id field holding the row label: continuations extend it, area headings move it. */
  labelField: string;
  /** Label-only rows matching this are notes, not headings. */
  ignore?: string;
  /** A label matching this continues the label of the row above it (long labels wrap over two rows). */
  continuation?: string;
  /** Under a heading matching `heading`, row labels name areas: the label goes to `field` and the heading becomes the label. */
  areas?: { heading: string; field: string };
}

/**
 * One row per period (weeks down the rows): period fields come from named columns and each value column
 * is unpivoted into its own output row, with the fields it declares.
 */
export interface PeriodsDownLayout extends LayoutRules {
  periodAxis: 'rows';
  header: {
    /** How many rows from the top to search for the header row (the first with every period column). */
    searchRows: number;
    /** Header patterns that must also be in the header row (which tells apart sheets named only by number). */
    requires?: readonly string[];
  };
  /**
   * Several tables stacked on one sheet: a row whose first cell matches `title` (also the nearest such row
   * above the header) gives `field` to the rows below it; a repeated header row is skipped.
   */
  blocks?: { title: string; field: string };
  /** Columns found by header pattern (case-insensitive regex) whose cells give each row's period. */
  periods: ReadonlyArray<{ field: string; header: string; parse: PeriodParserName }>;
  /**
   * Value columns found by header pattern; `{edition}` in a pattern stands for the edition year, so a
   * column printed for an earlier year as a comparison is not taken for the edition's own. A pattern
   * takes every column it matches that no earlier pattern took; `{header}` in a `set` value is the header text.
   */
  values: ReadonlyArray<{ header: string; optional: boolean; set: Readonly<Record<string, string>> }>;
}
