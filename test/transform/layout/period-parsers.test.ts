import { describe, expect, it } from 'vitest';
import { periodParsers } from '../../../src/transform/layout/period-parsers.js';
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
