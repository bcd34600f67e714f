import { describe, expect, it } from 'vitest';
import { ConfigError, DataError, diskFullError, errorMessage, isDiskFull, isEtlError, LoadError, SourceError, StepTimeoutError } from '../../src/core/errors.js';

describe('a full disk', () => {
  it('is recognised from an errno code, or from the message where DuckDB gives no code', () => {
    expect(isDiskFull(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    expect(isDiskFull(new Error('parquet writer: IO Error: Could not write file "/d/.etl-tmp-1-ab-deaths.parquet": No space left on device'))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('EBADF: bad file descriptor, close'), { code: 'EBADF' }))).toBe(false);
    expect(isDiskFull('a string')).toBe(false);
    // Anything can be thrown: a null must not become a TypeError here.
    expect(isDiskFull(null)).toBe(false);
  });

  it('becomes a load error naming the device and the file', () => {
    const error = diskFullError('/srv/out/deaths.parquet', new Error('ENOSPC'));
    expect(error).toBeInstanceOf(LoadError);
    expect(error.message).toBe('no space left on the device holding /srv/out (writing deaths.parquet)');
    expect(error.hint).toBe('free some space or point --data-dir/--out elsewhere, then run again; files already there are kept');
  });
});

describe('the error family', () => {
  it('each kind has its own exit code and name; hint and cause are kept', () => {
    const cause = new Error('ENOENT');
    const errors = [new ConfigError('c', { hint: 'fix the flag' }), new SourceError('s'), new DataError('d'), new LoadError('l', { cause })];
    expect(errors.map((error) => [error.name, error.exitCode])).toEqual([['ConfigError', 2], ['SourceError', 3], ['DataError', 4], ['LoadError', 5]]);
    expect(errors[0]!.hint).toBe('fix the flag');
    expect(errors[1]!.hint).toBeUndefined();
    expect(errors[3]!.cause).toBe(cause);
    expect('cause' in errors[0]!).toBe(false);
    expect(errors.every(isEtlError)).toBe(true);
    expect(isEtlError(new Error('x'))).toBe(false);
  });

  it('a source error is not retriable unless said so', () => {
    expect(new SourceError('404').retriable).toBe(false);
    expect(new SourceError('503', { retriable: true }).retriable).toBe(true);
  });

  it('errorMessage takes the message of an Error and the text of anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(404)).toBe('404');
  });

  it('a step that ran past its timeout exits with the code of that step, and says which setting raises it', () => {
    const [extract, transform, load] = (['extract', 'transform', 'load'] as const).map((step) => new StepTimeoutError(step, 90));
    expect([extract, transform, load].map((error) => error!.exitCode)).toEqual([3, 4, 5]);
    expect(transform!.name).toBe('TimeoutError');
    expect(transform!.message).toBe('transform ran past its timeout of 90 s and was stopped');
    expect(transform!.hint).toBe('raise --step-timeout (or steps.transform.timeout in the config), or find what made it slow with --debug');
  });
});
