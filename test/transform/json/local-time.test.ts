import { describe, expect, it } from 'vitest';
import { localTimeToInstant } from '../../../src/transform/json/local-time.js';

describe('localTimeToInstant', () => {
  it('reads a wall-clock time in a zone, with the zone history', () => {
    expect(localTimeToInstant('2024-02-29 09:00:00', 'America/Sao_Paulo').toISOString()).toBe('2024-02-29T12:00:00.000Z');
    expect(localTimeToInstant('2018-01-15 09:00', 'America/Sao_Paulo').toISOString()).toBe('2018-01-15T11:00:00.000Z');
  });

  it.each(['2024-02-30 09:00:00', '2023-02-29 09:00:00', '2024-04-31 00:00:00', '2024-13-01 00:00:00', '2024-01-01 24:00:00', '2024-01-01 25:00:00', '2024-01-01 10:61:00', '2024-01-01 10:00:60'])(
    'refuses %s, which is not on the calendar or the clock (Date.UTC would roll it over)',
    (text) => {
      expect(() => localTimeToInstant(text, 'America/Sao_Paulo')).toThrow('a local time YYYY-MM-DD HH:MM:SS that is on the calendar and the clock');
    },
  );
});
