import { columnName } from '../workbook/column-name.js';
import type { Cell } from '../workbook/workbook.js';

export const MONTH_ABBREVIATIONS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/**
 * `Jan-15`, `Mar-15 `, `Jan-193` (January 2019 with footnote 3 glued on), `January 2019`, `Jan 2019`.
 * A 4-digit year is tried before a 2-digit one so `Jan-2019` is 2019 and `Jan-193` is 2019 + note 3.
 */
const MONTH_LABEL = /^([a-z]{3})[a-z]*\.?[\s\-/']*(\d{4}|\d{2})(\d{0,2})\s*$/i;

export interface MonthPeriod {
  year: number;
  month: number; // 1-12
}

/** A month column header as a period, or null if the cell is not a month label. */
export function parseMonthLabel(cell: Cell, parseYear: (text: string) => number = expandYear): MonthPeriod | null {
  if (cell instanceof Date) return { year: cell.getUTCFullYear(), month: cell.getUTCMonth() + 1 };
  if (typeof cell !== 'string') return null;
  const match = MONTH_LABEL.exec(cell.trim());
  if (!match) return null;
  const month = MONTH_ABBREVIATIONS.indexOf(match[1]!.toLowerCase()) + 1;
  if (month === 0) return null;
  return { year: parseYear(match[2]!), month };
}

export function expandYear(text: string): number {
  const year = Number(text);
  return text.length === 2 ? 2000 + year : year;
}

/**
 * Footnote markers printed after a label: `ENGLAND, WALES AND ELSEWHERE 1,2`, `Persons 5`,
 * `Deaths by underlying cause2,3,4`, `Total deaths [note 1]`. Digits are stripped only when the label is
 * not itself numeric-ending in a meaningful way (an age band such as `15-44` or `85+` keeps its digits).
 */
const TRAILING_NOTE = /(?:\s*\[(?:note|Note|NOTE)\s*\d+\])+\s*$|(?<=[A-Za-z)])\s*\d{1,2}(?:\s*,\s*\d{1,2})*\s*$/;

export function cleanLabel(text: string): string {
  if (isCleanLabel(text)) return text;
  return text.replace(/\s+/g, ' ').trim().replace(TRAILING_NOTE, '').trim();
}

/**
 * Printable ASCII, single-spaced, not starting or ending in a space, and not ending in a digit or `]` (where
 * a footnote would be): cleanLabel gives such a label back as it is, without its four passes (60,000 area
 * names in the bench's sheet).
 */
function isCleanLabel(text: string): boolean {
  const length = text.length;
  if (length === 0) return true;
  const last = text.charCodeAt(length - 1);
  if (last === 0x20 || (last >= 0x30 && last <= 0x39) || last === 0x5d || text.charCodeAt(0) === 0x20) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || (code === 0x20 && text.charCodeAt(i + 1) === 0x20)) return false;
  }
  return true;
}

const NOTE_REFERENCE = /\s*\[note\s*\d+\]/gi;

/** Text with `[note 1]` references removed and spaces collapsed: how header cells are matched. */
export function stripNotes(text: string): string {
  return text.replace(NOTE_REFERENCE, '').replace(/\s+/g, ' ').trim();
}

export function cellText(cell: Cell): string {
  if (cell === null) return '';
  if (cell instanceof Date) return cell.toISOString().slice(0, 10);
  return String(cell).trim();
}

/** A number, or a numeric string such as `1,234`. Anything else is null. */
function cellNumber(cell: Cell): number | null {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : null;
  if (typeof cell !== 'string') return null;
  const text = cell.trim().replace(/,/g, '');
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

/** `A1`-style reference for error messages: column index 0 is A. */
export function cellRef(columnIndex: number, rowNumber: number): string {
  return `${columnName(columnIndex)}${rowNumber}`;
}

export { columnName };

/** A cell where a figure belongs: a number, a marker for "no figure", blank, or something unexpected. */
export type Figure = { kind: 'number'; value: number } | { kind: 'marker' } | { kind: 'blank' } | { kind: 'unexpected'; text: string };

/** `markers` holds lower-case marker texts such as `:` and `[x]`. */
export function readFigure(cell: Cell, markers: ReadonlySet<string>): Figure {
  const value = cellNumber(cell);
  if (value !== null) return { kind: 'number', value };
  const text = cellText(cell);
  if (text === '') return { kind: 'blank' };
  return markers.has(text.toLowerCase()) ? { kind: 'marker' } : { kind: 'unexpected', text };
}
