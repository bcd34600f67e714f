import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { checkCronSchedule } from '../../src/run/cron-schedule.js';

/**
 * `etl cron --schedule`, in-process so that Stryker sees a mutant of src/run/cron-schedule.ts (test/commands/cron.test.ts
 * holds the same through the built CLI). A schedule cron cannot read would make cron refuse the whole crontab on
 * install, or read the command's first word as a field: each is refused with the exact problem named.
 */
function problemOf(schedule: string): string {
  try {
    checkCronSchedule(schedule);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).hint).toMatch(/^five fields, minute hour day-of-month month day-of-week, e\.g\. "15 6 \* \* \*"/);
    const message = (error as Error).message;
    const prefix = `--schedule ${JSON.stringify(schedule)}: `;
    expect(message.startsWith(prefix), message).toBe(true);
    return message.slice(prefix.length);
  }
  throw new Error(`${JSON.stringify(schedule)} was accepted`);
}

describe('checkCronSchedule refuses what cron cannot read, naming the field and the problem', () => {
  it.each([
    ['', 'no fields; cron takes five'],
    ['   ', 'no fields; cron takes five'],
    ['15', 'one field; cron takes five'],
    ['15 6', 'two fields; cron takes five'],
    ['15 6 *', 'three fields; cron takes five'],
    ['15 6 * *', 'four fields; cron takes five'],
    ['0 0 * * * *', 'six fields (cron has no seconds field); cron takes five'],
    ['0 0 * * * * *', '7 fields; cron takes five'],
    ['61 6 * * *', 'minute "61": 61 is outside 0-59'],
    ['0 24 * * *', 'hour "24": 24 is outside 0-23'],
    ['0 0 0 * *', 'day of month "0": 0 is outside 1-31'],
    ['0 0 32 * *', 'day of month "32": 32 is outside 1-31'],
    ['0 0 * 0 *', 'month "0": 0 is outside 1-12'],
    ['0 0 * 13 *', 'month "13": 13 is outside 1-12'],
    ['0 0 * * 8', 'day of week "8": 8 is outside 0-7'],
    ['0 0 * * funday', 'day of week "funday": "funday" is not a number or a name (sun, mon, tue, wed, thu, fri, sat)'],
    ['0 0 * smarch *', 'month "smarch": "smarch" is not a number or a name (jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)'],
    ['x 0 * * *', 'minute "x": "x" is not a number'],
    ['1x 0 * * *', 'minute "1x": "1x" is not a number'],
    ['x5 0 * * *', 'minute "x5": "x5" is not a number'],
    ['*/x5 * * * *', 'minute "*/x5": step /x5 is not a whole number'],
    ['0 0 */32 * *', 'day of month "*/32": step /32 is outside 1-31'],
    ['0 0 * */13 *', 'month "*/13": step /13 is outside 1-12'],
    ['-1 0 * * *', 'minute "-1": "" is not a number'],
    ['*/0 * * * *', 'minute "*/0": step /0 is outside 1-60'],
    ['*/61 * * * *', 'minute "*/61": step /61 is outside 1-60'],
    ['0 */25 * * *', 'hour "*/25": step /25 is outside 1-24'],
    ['*/x * * * *', 'minute "*/x": step /x is not a whole number'],
    ['*/1x * * * *', 'minute "*/1x": step /1x is not a whole number'],
    ['*/ * * * *', 'minute "*/": step / is not a whole number'],
    ['5/10 * * * *', 'minute "5/10": a step goes with * or a range (write 5-59/10)'],
    ['0 17-9 * * *', 'hour "17-9": the range 17-9 runs backwards'],
    ['0 1-2-3 * * *', 'hour "1-2-3": "1-2-3" is not a range (write a-b)'],
    ['0 0 1,,15 * *', 'day of month "1,,15": an empty item in the list'],
    ['0 0 /5 * *', 'day of month "/5": "/5" is not a value, range or step'],
    ['0 0 ? * MON-FRI', 'day of month "?": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['0 0 * * 1#2', 'day of week "1#2": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['0 0 L * *', 'day of month "L": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['0 0 5L * *', 'day of month "5L": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['0 0 15W * *', 'day of month "15W": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['0 0 1,lw * *', 'day of month "1,lw": ?, L, W and # are Quartz syntax, which cron does not read'],
    ['@fortnightly', 'unknown macro (cron knows @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)'],
  ])('%j: %s', (schedule, problem) => {
    expect(problemOf(schedule)).toBe(problem);
  });
});

describe('checkCronSchedule accepts what cron reads, as cron reads it', () => {
  it.each([
    ['15 6 * * *', '15 6 * * *'],
    ['*/15 9-17 * * mon-fri', '*/15 9-17 * * mon-fri'],
    ['0 0 1,15 jan,jul *', '0 0 1,15 jan,jul *'],
    ['0 0 * * 7', '0 0 * * 7'],
    ['0-59/5 * * * SUN', '0-59/5 * * * SUN'],
    ['30 2 * * 1-5/2', '30 2 * * 1-5/2'],
    // The bounds of each field, a step of the whole range, names at both ends.
    ['0,59 0,23 1,31 1,12 0,7', '0,59 0,23 1,31 1,12 0,7'],
    ['*/60 */24 */31 */12 */8', '*/60 */24 */31 */12 */8'],
    ['0 0 * jan-dec sun-sat', '0 0 * jan-dec sun-sat'],
    ['0 0 * dec *', '0 0 * dec *'],
    ['0 0 * * sat', '0 0 * * sat'],
    ['0 0 * feb-mar *', '0 0 * feb-mar *'],
    ['5-5 * * * *', '5-5 * * * *'],
    ['*/1 * * * *', '*/1 * * * *'],
    // Spacing: tabs and runs of spaces become one space, the ends are trimmed.
    ['  15\t6  *   * *  ', '15 6 * * *'],
    ['@daily', '@daily'],
    ['@hourly', '@hourly'],
    ['@reboot', '@reboot'],
    ['@midnight', '@midnight'],
    ['@annually', '@annually'],
    [' @Weekly ', '@weekly'],
  ])('%j is written %j', (schedule, written) => {
    expect(checkCronSchedule(schedule)).toBe(written);
  });

  it('reads month names from jan = 1 and day names from sun = 0: mar-feb runs backwards, mon-sun does too', () => {
    expect(problemOf('0 0 * mar-feb *')).toBe('month "mar-feb": the range mar-feb runs backwards');
    expect(problemOf('0 0 * * mon-sun')).toBe('day of week "mon-sun": the range mon-sun runs backwards');
    expect(problemOf('0 0 * 2-jan *')).toBe('month "2-jan": the range 2-jan runs backwards');
    expect(checkCronSchedule('0 0 * jan-1 *')).toBe('0 0 * jan-1 *');
    expect(checkCronSchedule('0 0 * * sun-0')).toBe('0 0 * * sun-0');
    expect(problemOf('0 0 * * 1-sun')).toBe('day of week "1-sun": the range 1-sun runs backwards');
    expect(checkCronSchedule('0 0 * 1-jan *')).toBe('0 0 * 1-jan *');
    expect(checkCronSchedule('0 0 * 2-feb,mar-3 *')).toBe('0 0 * 2-feb,mar-3 *');
    expect(problemOf('0 0 * mar-2 *')).toBe('month "mar-2": the range mar-2 runs backwards');
    expect(checkCronSchedule('0 0 * * sat-6')).toBe('0 0 * * sat-6');
    expect(problemOf('0 0 * * sat-5')).toBe('day of week "sat-5": the range sat-5 runs backwards');
  });
});
