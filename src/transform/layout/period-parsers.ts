import type { PeriodParserName } from './dataset.js';
import { MONTH_ABBREVIATIONS, cellText, expandYear, parseMonthLabel, stripNotes } from './labels.js';
import { excelSerialToDate } from '../workbook/excel-dates.js';
import type { Cell } from '../workbook/workbook.js';

export type PeriodValue = number | Date;

export interface PeriodParser {
  /** The cell's period, or null when the cell is not one. */
  parse(cell: Cell): PeriodValue | null;
  /** How `etl inspect` prints a parsed value. */
  format(value: PeriodValue): string;
  /** For messages: what one label looks like. */
  noun: string;
  example: string;
}

/** `53`, `53 7` (week 53, footnote 7), `Week 5`, `12 [note 1]`. */
const WEEK_NUMBER = /^(?:week\s*)?(\d{1,2})(?:\s+\d{1,2}(?:\s*,\s*\d{1,2})*)?$/i;
/** `7-Jan-11`, `07 January 2011`, `7 Jan, 2011`. */
const DAY_MONTH_YEAR = /^(\d{1,2})[\s\-/.]+([a-z]{3})[a-z]*\.?[\s\-/.,]+(\d{4}|\d{2})$/i;
/** `07/01/2011` (day first, as ONS prints dates). */
const NUMERIC_DATE = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** A bare number in a date column is taken for an unformatted Excel serial only in this range (about 150 years of dates). */
const PLAUSIBLE_SERIALS = { min: 20_000, max: 80_000 };

const isoDay = (date: Date): string => date.toISOString().slice(0, 10);

export const periodParsers: Record<PeriodParserName, PeriodParser> = {
  'month-label': {
    parse(cell) {
      const month = parseMonthLabel(cell);
      return month && new Date(Date.UTC(month.year, month.month - 1, 1));
    },
    format: (value) => isoDay(value as Date).slice(0, 7),
    noun: 'month label',
    example: 'Jan-19',
  },
  'week-number': {
    parse(cell) {
      const week = typeof cell === 'number' ? cell : Number(WEEK_NUMBER.exec(stripNotes(cellText(cell)))?.[1] ?? NaN);
      return Number.isInteger(week) && week >= 1 && week <= 53 ? week : null;
    },
    format: (value) => `week ${String(value)}`,
    noun: 'week number',
    example: '53',
  },
  date: {
    parse: parseDateCell,
    format: (value) => isoDay(value as Date),
    noun: 'date',
    example: '7-Jan-11',
  },
};

function parseDateCell(cell: Cell): Date | null {
  if (cell instanceof Date) return new Date(Date.UTC(cell.getUTCFullYear(), cell.getUTCMonth(), cell.getUTCDate()));
  if (typeof cell === 'number') return cell >= PLAUSIBLE_SERIALS.min && cell <= PLAUSIBLE_SERIALS.max ? excelSerialToDate(Math.floor(cell)) : null;
  const text = stripNotes(cellText(cell));
  let match = DAY_MONTH_YEAR.exec(text);
  if (match) return validDate(expandYear(match[3]!), MONTH_ABBREVIATIONS.indexOf(match[2]!.toLowerCase()) + 1, Number(match[1]));
  match = NUMERIC_DATE.exec(text);
  if (match) return validDate(Number(match[3]), Number(match[2]), Number(match[1]));
  match = ISO_DATE.exec(text);
  if (match) return validDate(Number(match[1]), Number(match[2]), Number(match[3]));
  return null;
}

/** Null for 31 February and friends, which Date.UTC would silently roll over. */
function validDate(year: number, month: number, day: number): Date | null {
  if (month < 1 || month > 12) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCDate() === day && date.getUTCMonth() === month - 1 ? date : null;
}

/** The calendar year of a parsed period, when it has one (week numbers do not). */
export function periodYear(value: PeriodValue): number | undefined {
  return value instanceof Date ? value.getUTCFullYear() : undefined;
}

/** Identifies a period across rows and releases: its field values in a fixed order. */
export function periodKey(values: readonly unknown[]): string {
  return values.map((value) => (value instanceof Date ? isoDay(value) : String(value))).join('|');
}
