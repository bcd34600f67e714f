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
  periods: ReadonlyArray<{ field: string; parse: PeriodParserName; offset: number; label?: string; mustBeInEditionYear?: boolean }>;
  /**
   * Fields taken from the id cells (the cells left of the first period column). Each takes the first
   * id cell matching its pattern that no earlier field took; an optional field may find none.
   */
  ids: ReadonlyArray<{ field: string; pattern: string; optional: boolean; clean: boolean }>;
  /** Rows with a label but no figures are headings for the rows below them (omit: such rows are skipped). */
  headings?: HeadingRules;
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
  };
  /** Columns found by header pattern (case-insensitive regex) whose cells give each row's period. */
  periods: ReadonlyArray<{ field: string; header: string; parse: PeriodParserName }>;
  /**
   * Value columns found by header pattern; `{edition}` in a pattern stands for the edition year, so a
   * column printed for an earlier year as a comparison is not taken for the edition's own.
   */
  values: ReadonlyArray<{ header: string; optional: boolean; set: Readonly<Record<string, string>> }>;
}
