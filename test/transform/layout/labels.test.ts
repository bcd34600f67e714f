import { describe, expect, it } from 'vitest';
import { cellRef, cellText, cleanLabel, expandYear, parseMonthLabel, readFigure, stripNotes, type Figure } from '../../../src/transform/layout/labels.js';
import type { Cell } from '../../../src/transform/workbook/workbook.js';

describe('parseMonthLabel', () => {
  it.each<[Cell, { year: number; month: number } | null]>([
    ['Jan-15', { year: 2015, month: 1 }],
    ['Mar-15 ', { year: 2015, month: 3 }],
    [' dec-15', { year: 2015, month: 12 }],
    // January 2019 with footnote 3 glued on; a 4-digit year is taken before a 2-digit one.
    ['Jan-193', { year: 2019, month: 1 }],
    ['Jan-2019', { year: 2019, month: 1 }],
    ['January 2019', { year: 2019, month: 1 }],
    ['Sept. 2019', { year: 2019, month: 9 }],
    ["Jun'19", { year: 2019, month: 6 }],
    ['Jul/19', { year: 2019, month: 7 }],
    ['Aug19', { year: 2019, month: 8 }],
    ['Nov - 2019', { year: 2019, month: 11 }],
    [new Date(Date.UTC(2021, 2, 31, 23, 30)), { year: 2021, month: 3 }],
    ['Foo-19', null],
    ['Jan', null],
    ['Jan-1', null],
    ['Jan-19x', null],
    ['Total Jan-19', null],
    ['Ja-19', null],
    [201901, null],
    [null, null],
    [true, null],
  ])('%j', (cell, expected) => {
    expect(parseMonthLabel(cell)).toEqual(expected);
  });

  it('hands the year text to the given year rule', () => {
    const seen: string[] = [];
    expect(parseMonthLabel('Feb-07', (text) => (seen.push(text), 1907))).toEqual({ year: 1907, month: 2 });
    expect(seen).toEqual(['07']);
  });

  it('expandYear: two digits are this century, four are as printed', () => {
    expect(expandYear('07')).toBe(2007);
    expect(expandYear('99')).toBe(2099);
    expect(expandYear('1999')).toBe(1999);
  });
});

describe('cleanLabel', () => {
  it.each([
    ['ENGLAND, WALES AND ELSEWHERE 1,2', 'ENGLAND, WALES AND ELSEWHERE'],
    ['Persons 5', 'Persons'],
    ['Deaths by underlying cause2,3,4', 'Deaths by underlying cause'],
    ['Deaths 1 , 2', 'Deaths'],
    ['Total deaths [note 1]', 'Total deaths'],
    ['Total [Note 2] [NOTE 3]', 'Total'],
    ['Total [note 12]  ', 'Total'],
    ['Rate (per 100k) 4', 'Rate (per 100k)'],
    ['  Two   spaces\tand a tab ', 'Two spaces and a tab'],
    // Digits that are the label itself stay: age bands, three-digit numbers, a number alone.
    ['15-44', '15-44'],
    ['85+', '85+'],
    ['Aged 100', 'Aged 100'],
    ['2019', '2019'],
    ['Week 5 ending', 'Week 5 ending'],
    // Each thing that keeps a label off the short way (a label already clean is given back as it is).
    ['Area 12 name', 'Area 12 name'],
    [' Lead', 'Lead'],
    ['Trail ', 'Trail'],
    ['Two  spaces', 'Two spaces'],
    ['Line\nbreak', 'Line break'],
    ['No\u00a0break', 'No break'],
    ['Ends in a footnote2', 'Ends in a footnote'],
    ['Ends in a note [note 3]', 'Ends in a note'],
    ['', ''],
  ])('%j -> %j', (text, expected) => {
    expect(cleanLabel(text)).toBe(expected);
  });
});

describe('stripNotes', () => {
  it.each([
    ['Week [note 1] ending', 'Week ending'],
    ['[NOTE 2]Total', 'Total'],
    ['Total [note1][Note 22]', 'Total'],
    ['  a \n b  ', 'a b'],
    ['[notes 1]', '[notes 1]'],
  ])('%j -> %j', (text, expected) => {
    expect(stripNotes(text)).toBe(expected);
  });
});

describe('cellText and cellRef', () => {
  it.each<[Cell, string]>([
    [null, ''],
    [new Date(Date.UTC(2020, 0, 3, 13)), '2020-01-03'],
    [12.5, '12.5'],
    ['  x y  ', 'x y'],
    [true, 'true'],
  ])('cellText(%j) = %j', (cell, expected) => {
    expect(cellText(cell)).toBe(expected);
  });

  it('names a cell A1-style from a 0-based column', () => {
    expect(cellRef(0, 1)).toBe('A1');
    expect(cellRef(25, 7)).toBe('Z7');
    expect(cellRef(27, 12)).toBe('AB12');
  });
});

describe('readFigure', () => {
  const markers = new Set([':', '[x]', 'x']);
  it.each<[Cell, Figure]>([
    [5, { kind: 'number', value: 5 }],
    [-2.5, { kind: 'number', value: -2.5 }],
    ['1,234', { kind: 'number', value: 1234 }],
    [' 12 ', { kind: 'number', value: 12 }],
    ['-7', { kind: 'number', value: -7 }],
    ['3.25', { kind: 'number', value: 3.25 }],
    ['3.', { kind: 'unexpected', text: '3.' }],
    ['.5', { kind: 'unexpected', text: '.5' }],
    ['12a', { kind: 'unexpected', text: '12a' }],
    ['a12', { kind: 'unexpected', text: 'a12' }],
    [Infinity, { kind: 'unexpected', text: 'Infinity' }],
    [NaN, { kind: 'unexpected', text: 'NaN' }],
    [null, { kind: 'blank' }],
    ['   ', { kind: 'blank' }],
    [':', { kind: 'marker' }],
    [' [X] ', { kind: 'marker' }],
    ['X', { kind: 'marker' }],
    ['n/a', { kind: 'unexpected', text: 'n/a' }],
    [true, { kind: 'unexpected', text: 'true' }],
    [new Date(Date.UTC(2020, 0, 3)), { kind: 'unexpected', text: '2020-01-03' }],
  ])('%j', (cell, expected) => {
    expect(readFigure(cell, markers)).toEqual(expected);
  });
});
