import type { Column } from '../core/table.js';

/**
 * A workbook dataset is declared as data: how to find the table sheet, its header row, which columns are
 * ids and which hold figures, and how labels become periods. The engine (read-workbook-table.ts) has no
 * per-year code; a new edition that stays within these rules needs no code change.
 */
export interface WorkbookDataset {
  /** CLI id, e.g. `monthly-deaths`. */
  name: string;
  title: string;
  /** The dataset landing page that lists one workbook per edition. */
  pageUrl: string;
  /** The table sheet: the first sheet whose name matches (case-insensitive regex). */
  sheet: { namePattern: string };
  header: {
    /** How many rows from the top to search for the header row. */
    searchRows: number;
    /** The header row is the first row with at least this many period labels. */
    minPeriodColumns: number;
  };
  /** Periods run across the columns; each label is parsed by the named parser. */
  periods: { parse: 'month-label'; field: string; mustBeInEditionYear: boolean };
  /**
   * Fields taken from the id cells (the cells left of the first period column). Each takes the first
   * id cell matching its pattern that no earlier field took; an optional field may find none.
   */
  ids: ReadonlyArray<{ field: string; pattern: string; optional: boolean; clean: boolean }>;
  /** The figure in each period cell. */
  value: { field: string; markers: readonly string[] };
  /** Rows from the first one whose first id cell matches this pattern onwards are notes, not table. */
  stopAt: string;
  /** Output columns, in order. `edition` and `source_file` are filled by the engine. */
  columns: readonly Column[];
}
