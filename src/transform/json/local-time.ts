import { isCalendarDay, isTimeOfDay, utcTime } from './calendar.js';

/**
 * Wall-clock times in a named zone to UTC instants, with the zone's history (tzdata via Intl): Brazil
 * kept daylight saving time until 2019, so São Paulo was UTC-2 in summers before then and is UTC-3 now.
 */
const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, format);
  }
  return format;
}

/** The zone's offset from UTC at an instant, in ms (São Paulo today: -3 h). */
function offsetAt(instant: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(new Date(instant))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const wall = utcTime(parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(instant / 1000) * 1000;
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * "2018-01-15 09:00:00" in America/Sao_Paulo -> 2018-01-15T11:00:00Z. A time skipped when clocks went
 * forward lands after the gap; a time repeated when they went back is taken as its first occurrence.
 */
export function localTimeToInstant(text: string, zone: string): Date {
  const match = LOCAL_TIME.exec(text.trim());
  if (!match) throw new Error('a local time YYYY-MM-DD HH:MM:SS');
  const [year, month, day, hour, minute, second] = match.slice(1).map((field) => Number(field ?? 0)) as [number, number, number, number, number, number];
  if (!isCalendarDay(year, month, day) || !isTimeOfDay(hour, minute, second)) throw new Error('a local time YYYY-MM-DD HH:MM:SS that is on the calendar and the clock');
  const wall = utcTime(year, month, day, hour, minute, second);
  // The offsets in force a day either side cover any one transition: a reading is right when the
  // offset at the instant it gives is the one it assumed.
  const offsets = [offsetAt(wall - DAY_MS, zone), offsetAt(wall, zone), offsetAt(wall + DAY_MS, zone)];
  const valid = offsets.map((offset) => wall - offset).filter((instant) => wall - offsetAt(instant, zone) === instant);
  if (valid.length > 0) return new Date(Math.min(...valid));
  // In a gap no offset fits: read it with the offset from before the change, which lands after the gap.
  return new Date(wall - offsets[0]!);
}
