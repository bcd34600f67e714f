import { describe, expect, it } from 'vitest';
import { excelSerialToDate, isDateNumberFormat } from '../../../src/transform/workbook/excel-dates.js';

describe('excel dates', () => {
  it('knows which built-in number format ids show a date (ECMA-376 18.8.30, East Asian ids included), boundaries on both sides', () => {
    const dateIds = Array.from({ length: 200 }, (_, id) => id).filter((id) => isDateNumberFormat(id, undefined));
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(dateIds).toEqual([...range(14, 22), ...range(27, 36), ...range(45, 47), ...range(50, 58)]);
  });

  it('lets a custom format code decide over the id it is defined under', () => {
    expect(isDateNumberFormat(14, '0.00')).toBe(false);
    expect(isDateNumberFormat(2, 'dd/mm/yyyy')).toBe(true);
  });

  it('reads serial days as UTC dates, in the 1900 and the 1904 date systems', () => {
    expect(excelSerialToDate(45292).toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(excelSerialToDate(45292.5).toISOString()).toBe('2024-01-01T12:00:00.000Z');
    expect(excelSerialToDate(43830, true).toISOString()).toBe('2024-01-01T00:00:00.000Z');
  });
});
