import { expect, it } from 'vitest';
import { columnName } from '../../../src/transform/workbook/column-name.js';

it('names columns as Excel shows them, where a letter rolls over included', () => {
  const names = { 0: 'A', 25: 'Z', 26: 'AA', 51: 'AZ', 52: 'BA', 701: 'ZZ', 702: 'AAA', 16_383: 'XFD' };
  expect(Object.fromEntries(Object.keys(names).map((index) => [index, columnName(Number(index))]))).toEqual(Object.fromEntries(Object.entries(names)));
});
