import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_SECONDS, checkTimerSeconds, dataDirOption, fetchOptions, loadOptions, parseCount, parsePositiveInt, parseRate, parseSeconds, transformOptions } from '../../src/commands/options.js';
import { ConfigError } from '../../src/core/errors.js';

/** The flag parsers and defaults every command shares (src/commands/options.ts). */
const refused = (parse: (value: string) => number, value: string): string => {
  try {
    parse(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  return expect.fail(`${value} was accepted`);
};

describe('numbers on the command line are plain decimal', () => {
  it('parsePositiveInt: 1 and up, digits only', () => {
    expect(parsePositiveInt('1')).toBe(1);
    expect(parsePositiveInt('0012')).toBe(12);
    expect(parsePositiveInt(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    for (const value of ['0', '', ' 7', '7 ', '0x10', '1e3', '0b1', '-1', '1.5', '+2', String(Number.MAX_SAFE_INTEGER + 1), 'x7']) {
      expect(refused(parsePositiveInt, value)).toBe('expected a whole number of 1 or more, in decimal digits');
    }
  });

  it('parseCount: 0 and up, digits only', () => {
    expect(parseCount('0')).toBe(0);
    expect(parseCount('4')).toBe(4);
    for (const value of ['', '-1', '1.0', '0x1', ' 1', '1 ', 'a1', String(2 ** 60)]) {
      expect(refused(parseCount, value)).toBe('expected a whole number of 0 or more, in decimal digits');
    }
  });

  it('parseSeconds: 1 to the longest a timer holds, about 24.8 days', () => {
    expect(MAX_TIMER_SECONDS).toBe(2147483);
    expect(parseSeconds('1')).toBe(1);
    expect(parseSeconds('2147483')).toBe(2147483);
    expect(refused(parseSeconds, '2147484')).toBe('expected at most 2147483 seconds (about 24.8 days: a longer timer would fire at once, not after 2147484 s)');
    expect(refused(parseSeconds, '0')).toBe('expected a whole number of 1 or more, in decimal digits');
  });

  it('checkTimerSeconds: the same cap for a value from a config file, named by where it came from', () => {
    expect(() => checkTimerSeconds(undefined, '--timeout')).not.toThrow();
    expect(() => checkTimerSeconds(2147483, '--timeout')).not.toThrow();
    let caught: unknown;
    try {
      checkTimerSeconds(2147484, '--timeout (options.timeout)');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe('--timeout (options.timeout) 2147484: expected at most 2147483 seconds (about 24.8 days: a longer timer would fire at once, not after 2147484 s)');
    expect((caught as ConfigError).hint).toBe('leave it out for no limit, or give a shorter time');
  });

  it('parseRate: 0 (no limit), or one request per 1000 s and up; fractions in decimal', () => {
    expect(parseRate('0')).toBe(0);
    expect(parseRate('2')).toBe(2);
    expect(parseRate('0.5')).toBe(0.5);
    expect(parseRate('0.001')).toBe(0.001);
    expect(parseRate('10.25')).toBe(10.25);
    for (const value of ['', '-1', '.5', '5.', '1e2', '0x2', ' 1', '1 ', 'Infinity', '1.2.3']) {
      expect(refused(parseRate, value)).toBe('expected a number of 0 or more in decimal digits, e.g. 2 or 0.5');
    }
    expect(refused(parseRate, '0.0009')).toBe('expected 0 (no limit) or at least 0.001 (one request per 1000 s)');
  });
});

describe('shared options and their defaults', () => {
  const defaults = (options: ReturnType<typeof fetchOptions>): Record<string, unknown> => Object.fromEntries(options.map((o) => [o.attributeName(), o.defaultValue]));

  it('extract: 4 downloads at once, 30 s silence, 300 s a file, 4 retries, 5 requests a second', () => {
    expect(defaults(fetchOptions())).toEqual({ concurrency: 4, timeout: 30, downloadTimeout: 300, retries: 4, rateLimit: 5 });
    const [concurrency, timeout, downloadTimeout, retries, rateLimit] = fetchOptions();
    expect(concurrency!.parseArg!('2', undefined)).toBe(2);
    expect(() => concurrency!.parseArg!('0', undefined)).toThrow(InvalidArgumentError);
    expect(() => timeout!.parseArg!('2147484', undefined)).toThrow(/at most 2147483 seconds/);
    expect(() => downloadTimeout!.parseArg!('2147484', undefined)).toThrow(/at most 2147483 seconds/);
    expect(retries!.parseArg!('0', undefined)).toBe(0);
    expect(rateLimit!.parseArg!('0.5', undefined)).toBe(0.5);
  });

  it('transform: --skip-bad off; load: --dry-run and --force off, the default key {name}', () => {
    expect(defaults(transformOptions())).toEqual({ out: undefined, skipBad: false, partitionBy: undefined });
    expect(defaults(loadOptions())).toEqual({ bucket: undefined, to: undefined, table: undefined, mode: undefined, key: '{name}', endpoint: undefined, region: undefined, dryRun: false, force: false });
  });

  it('--data-dir: ./data, or ETL_DATA_DIR', () => {
    const option = dataDirOption();
    expect(option.defaultValue).toBe('data');
    expect(option.envVar).toBe('ETL_DATA_DIR');
    expect(option.long).toBe('--data-dir');
  });
});
