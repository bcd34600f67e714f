import { describe, expect, it } from 'vitest';
import { isCalendarDay, isTimeOfDay, utcTime } from '../../../src/transform/json/calendar.js';
import { localTimeToInstant } from '../../../src/transform/json/local-time.js';

/** The calendar checks and the local-time conversion the JSON sources' dates and hours go through (src/transform/json). */
describe('the calendar', () => {
  it('leap years: every fourth, not every hundredth, every four hundredth', () => {
    expect(isCalendarDay(2024, 2, 29)).toBe(true);
    expect(isCalendarDay(2023, 2, 29)).toBe(false);
    expect(isCalendarDay(2023, 2, 28)).toBe(true);
    expect(isCalendarDay(1900, 2, 29)).toBe(false);
    expect(isCalendarDay(2000, 2, 29)).toBe(true);
    expect(isCalendarDay(2100, 2, 29)).toBe(false);
    expect(isCalendarDay(2024, 2, 30)).toBe(false);
  });

  it('months 1 to 12, days from 1 to the month\'s length', () => {
    expect(isCalendarDay(2024, 0, 1)).toBe(false);
    expect(isCalendarDay(2024, 13, 1)).toBe(false);
    expect(isCalendarDay(2024, 1, 0)).toBe(false);
    expect(isCalendarDay(2024, 1, 31)).toBe(true);
    expect(isCalendarDay(2024, 4, 31)).toBe(false);
    expect(isCalendarDay(2024, 12, 31)).toBe(true);
    expect(isCalendarDay(2024, 12, 32)).toBe(false);
  });

  it('times of day: 00:00:00 to 23:59:59, no 24:00, no minute or second 60', () => {
    expect(isTimeOfDay(0, 0, 0)).toBe(true);
    expect(isTimeOfDay(23, 59, 59)).toBe(true);
    for (const [h, m, s] of [[24, 0, 0], [23, 60, 0], [23, 59, 60], [-1, 0, 0], [0, -1, 0], [0, 0, -1]] as const) expect(isTimeOfDay(h, m, s)).toBe(false);
  });

  it('utcTime takes any year as written, 0-99 included', () => {
    expect(new Date(utcTime(50, 1, 1)).toISOString()).toBe('0050-01-01T00:00:00.000Z');
    expect(new Date(utcTime(2024, 2, 29, 13, 5, 9)).toISOString()).toBe('2024-02-29T13:05:09.000Z');
  });
});

describe('local times in a zone to UTC instants', () => {
  const at = (text: string, zone = 'America/Sao_Paulo'): string => localTimeToInstant(text, zone).toISOString();

  it('São Paulo: UTC-2 in the summers before 2019, UTC-3 otherwise; seconds optional; T or a space; spaces around ignored', () => {
    expect(at('2018-01-15 09:00:00')).toBe('2018-01-15T11:00:00.000Z');
    expect(at('2018-07-15 09:00:00')).toBe('2018-07-15T12:00:00.000Z');
    expect(at('2024-01-15 09:00')).toBe('2024-01-15T12:00:00.000Z');
    expect(at(' 2024-01-15T09:00:05 ')).toBe('2024-01-15T12:00:05.000Z');
    expect(at('2024-01-01 09:00:00', 'Asia/Tokyo')).toBe('2024-01-01T00:00:00.000Z');
    expect(at('2024-07-01 09:00:00', 'Europe/London')).toBe('2024-07-01T08:00:00.000Z');
  });

  it('a time skipped when the clocks went forward lands after the gap; a time repeated when they went back is its first occurrence', () => {
    // 2018-11-04: 00:00 became 01:00 in São Paulo.
    expect(at('2018-11-04 00:30:00')).toBe('2018-11-04T03:30:00.000Z');
    expect(at('2018-11-04 01:30:00')).toBe('2018-11-04T03:30:00.000Z');
    // 2018-02-18: 00:00 became 23:00 of the 17th again; 23:30 happened at 01:30Z, then at 02:30Z.
    expect(at('2018-02-17 23:30:00')).toBe('2018-02-18T01:30:00.000Z');
    expect(at('2018-02-18 00:30:00')).toBe('2018-02-18T03:30:00.000Z');
    // London, 2024-03-31 01:00 became 02:00; 2024-10-27 02:00 became 01:00.
    expect(at('2024-03-31 01:30:00', 'Europe/London')).toBe('2024-03-31T01:30:00.000Z');
    expect(at('2024-10-27 01:30:00', 'Europe/London')).toBe('2024-10-27T00:30:00.000Z');
  });

  it('refuses text that is not a local time, and a day or time that does not exist', () => {
    expect(() => localTimeToInstant('15/01/2024 09:00', 'UTC')).toThrow(/^a local time YYYY-MM-DD HH:MM:SS$/);
    expect(() => localTimeToInstant('2024-01-15 09:00:00Z', 'UTC')).toThrow(/^a local time YYYY-MM-DD HH:MM:SS$/);
    expect(() => localTimeToInstant('2024-02-30 09:00:00', 'UTC')).toThrow('a local time YYYY-MM-DD HH:MM:SS that is on the calendar and the clock');
    expect(() => localTimeToInstant('2024-01-15 24:00:00', 'UTC')).toThrow('a local time YYYY-MM-DD HH:MM:SS that is on the calendar and the clock');
  });
});
