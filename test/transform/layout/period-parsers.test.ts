import { describe, expect, it } from 'vitest';
import { periodKey, periodParsers, periodYear, type PeriodValue } from '../../../src/transform/layout/period-parsers.js';
import type { Cell } from '../../../src/transform/workbook/workbook.js';

const day = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

describe('period parsers', () => {
  it.each<[string, Cell, number | null]>([
    ['a number', 1, 1],
    ['week 53', 53, 53],
    ['week 53 with footnote 7', '53 7', 53],
    ['a numeric string', ' 12 ', 12],
    ['"Week 5"', 'Week 5', 5],
    ['a [note] marker', '12 [note 1]', 12],
    ['0 is not a week', 0, null],
    ['54 is not a week', 54, null],
    ['a fraction is not a week', 1.5, null],
    ['an age band is not a week', '1-4', null],
    ['a label is not a week', 'Week number', null],
    ['a date is not a week', day('2020-01-03'), null],
  ])('week-number: %s', (_, cell, expected) => {
    expect(periodParsers['week-number'].parse(cell)).toBe(expected);
  });

  it.each<[string, Cell, string | null]>([
    ['a date cell', day('2020-01-03'), '2020-01-03'],
    ['a date cell with a time of day', new Date('2020-01-03T13:45:00Z'), '2020-01-03'],
    ['d-Mmm-yy text', '7-Jan-11', '2011-01-07'],
    ['dd Month yyyy text', '07 January 2011', '2011-01-07'],
    ['dd/mm/yyyy text (day first)', '07/01/2011', '2011-01-07'],
    ['ISO text', '2022-01-07', '2022-01-07'],
    ['an unformatted Excel serial', 43833, '2020-01-03'],
    ['a small number is not a date', 7, null],
    ['31 February is not a date', '31-Feb-11', null],
    ['text that is not a date', 'tbc', null],
  ])('date: %s', (_, cell, expected) => {
    const value = periodParsers.date.parse(cell);
    expect(value === null ? null : (value as Date).toISOString().slice(0, 10)).toBe(expected);
  });

  it.each<[Cell, string | null]>([
    ['Jan-15', '2015-01'],
    ['Jan-193', '2019-01'],
    [day('2021-03-01'), '2021-03'],
    ['Total', null],
  ])('month-label: %s', (cell, expected) => {
    const value = periodParsers['month-label'].parse(cell);
    expect(value === null ? null : periodParsers['month-label'].format(value)).toBe(expected);
  });
});

describe('period parsers at their edges', () => {
  const iso = (value: PeriodValue | null): string | null => (value === null ? null : (value as Date).toISOString());

  it.each<[string, Cell, string | null]>([
    ['the first plausible Excel serial', 20_000, '1954-10-03T00:00:00.000Z'],
    ['the last plausible Excel serial', 80_000, '2119-01-11T00:00:00.000Z'],
    ['a serial just below the range', 19_999, null],
    ['a serial just above the range', 80_001, null],
    ['a serial with a time of day keeps its day', 43833.75, '2020-01-03T00:00:00.000Z'],
    ['a date cell at 23:59 keeps its day, at midnight', new Date('2020-01-03T23:59:00Z'), '2020-01-03T00:00:00.000Z'],
    ['a 2-digit year in d-Mmm-yy', '7-Jan-11', '2011-01-07T00:00:00.000Z'],
    ['d Mmm, yyyy', '7 Jan, 2011', '2011-01-07T00:00:00.000Z'],
    ['d.m.yyyy', '7.1.2011', '2011-01-07T00:00:00.000Z'],
    ['a note after a date', '07/01/2011 [note 2]', '2011-01-07T00:00:00.000Z'],
    ['31 December', '31/12/2011', '2011-12-31T00:00:00.000Z'],
    ['month 13', '07/13/2011', null],
    ['month 0', '07/00/2011', null],
    ['ISO month 13', '2011-13-01', null],
    ['ISO 30 February', '2012-02-30', null],
    ['ISO 29 February of a leap year', '2012-02-29', '2012-02-29T00:00:00.000Z'],
    ['an unknown month name', '7-Foo-11', null],
    ['text around a date', 'w/e 07/01/2011', null],
    ['a date and more', '2011-01-07 x', null],
    ['a boolean', true, null],
    ['blank', null, null],
  ])('date: %s', (_, cell, expected) => {
    expect(iso(periodParsers.date.parse(cell))).toBe(expected);
  });

  it('month-label gives the first of the month at midnight UTC', () => {
    expect(iso(periodParsers['month-label'].parse('Dec-19'))).toBe('2019-12-01T00:00:00.000Z');
    expect(periodParsers['month-label'].parse(12)).toBeNull();
  });

  it.each<[Cell, number | null]>([
    ['week 7', 7],
    ['WEEK7', 7],
    ['1', 1],
    ['53 1,2', 53],
    ['53 1, 2', 53],
    ['5 123', null],
    ['Week 5 ending', null],
    ['x5', null],
    [-1, null],
    [null, null],
  ])('week-number: %j', (cell, expected) => {
    expect(periodParsers['week-number'].parse(cell)).toBe(expected);
  });

  it('formats each kind of period as etl inspect prints it, with its noun and example', () => {
    expect(periodParsers['month-label'].format(new Date(Date.UTC(2019, 11, 1)))).toBe('2019-12');
    expect(periodParsers['week-number'].format(53)).toBe('week 53');
    expect(periodParsers.date.format(new Date(Date.UTC(2011, 0, 7)))).toBe('2011-01-07');
    expect(Object.entries(periodParsers).map(([name, parser]) => [name, parser.noun, parser.example])).toEqual([
      ['month-label', 'month label', 'Jan-19'],
      ['week-number', 'week number', '53'],
      ['date', 'date', '7-Jan-11'],
    ]);
  });

  it('periodYear is the calendar year of a date, none for a week number', () => {
    expect(periodYear(new Date(Date.UTC(2019, 11, 31)))).toBe(2019);
    expect(periodYear(53)).toBeUndefined();
  });

  it('periodKey joins dates as days and other values as text', () => {
    expect(periodKey([new Date(Date.UTC(2019, 0, 4, 12)), 1, 'a', null])).toBe('2019-01-04|1|a|null');
    expect(periodKey([])).toBe('');
  });
});
