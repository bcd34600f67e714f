import { ConfigError } from '../core/errors.js';

/**
 * A crontab schedule as Vixie cron and cronie read it: five fields (minute hour day-of-month month day-of-week),
 * each `*` or a number or name, a range `a-b`, a step on either (`* /15` without the space, `9-17/2`), or a
 * comma-separated list of those; or one of the @ macros. Anything else is refused here: cron would either
 * reject the whole crontab on install or, with a field missing, read the command's first word as a field.
 */
const MACROS = ['@reboot', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Names for min, min + 1, …: months jan=1, days sun=0. */
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too.
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

const HINT = 'five fields, minute hour day-of-month month day-of-week, e.g. "15 6 * * *" (06:15 daily), "*/30 8-18 * * mon-fri"; or @hourly, @daily, @weekly, @monthly, @yearly, @reboot';

/** The schedule as it goes into the line (fields separated by one space), or a ConfigError naming the bad field. */
export function checkCronSchedule(schedule: string): string {
  const fail = (problem: string): never => {
    throw new ConfigError(`--schedule ${JSON.stringify(schedule)}: ${problem}`, { hint: HINT });
  };
  const text = schedule.trim();
  if (text.startsWith('@')) {
    if (!MACROS.includes(text.toLowerCase())) fail(`unknown macro (cron knows ${MACROS.join(', ')})`);
    return text.toLowerCase();
  }
  const fields = text === '' ? [] : text.split(/[ \t]+/);
  if (fields.length !== 5) {
    const count = ['no fields', 'one field', 'two fields', 'three fields', 'four fields', '', 'six fields (cron has no seconds field)'][fields.length] ?? `${fields.length} fields`;
    fail(`${count}; cron takes five`);
  }
  fields.forEach((field, index) => checkField(field, FIELDS[index]!, fail));
  return fields.join(' ');
}

function checkField(field: string, spec: FieldSpec, fail: (problem: string) => never): void {
  const bad = (problem: string): never => fail(`${spec.name} ${JSON.stringify(field)}: ${problem}`);
  if (/[?#]/.test(field) || field.split(',').some((item) => /^(\d*L|\d+W|LW)$/i.test(item))) {
    bad('?, L, W and # are Quartz syntax, which cron does not read');
  }
  for (const item of field.split(',')) {
    const match = /^([^/]+)(?:\/(.*))?$/.exec(item);
    if (!match) bad(item === '' ? 'an empty item in the list' : `${JSON.stringify(item)} is not a value, range or step`);
    const [, range, step] = match as unknown as [string, string, string | undefined];
    if (step !== undefined) {
      if (!/^\d+$/.test(step)) bad(`step /${step} is not a whole number`);
      if (Number(step) < 1 || Number(step) > spec.max - spec.min + 1) bad(`step /${step} is outside 1-${spec.max - spec.min + 1}`);
    }
    if (range === '*') continue;
    const ends = range.split('-');
    if (ends.length > 2) bad(`${JSON.stringify(range)} is not a range (write a-b)`);
    const [low, high] = ends.map((end) => value(end, spec, bad)) as [number, number | undefined];
    if (high === undefined && step !== undefined) bad(`a step goes with * or a range (write ${low}-${spec.max}/${step})`);
    if (high !== undefined && high < low) bad(`the range ${range} runs backwards`);
  }
}

function value(text: string, spec: FieldSpec, bad: (problem: string) => never): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return spec.min === 0 ? named : named + spec.min;
  if (!/^\d+$/.test(text)) bad(`${JSON.stringify(text)} is not a number${spec.names ? ` or a name (${spec.names.join(', ')})` : ''}`);
  const number = Number(text);
  if (number < spec.min || number > spec.max) bad(`${number} is outside ${spec.min}-${spec.max}`);
  return number;
}
