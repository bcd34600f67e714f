import { describe, expect, it } from 'vitest';
import { LoadError, diskFullError, isDiskFull } from '../../src/core/errors.js';

describe('a full disk', () => {
  it('is recognised from an errno code, or from the message where DuckDB gives no code', () => {
    expect(isDiskFull(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    expect(isDiskFull(new Error('parquet writer: IO Error: Could not write file "/d/.etl-tmp-1-ab-deaths.parquet": No space left on device'))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('EBADF: bad file descriptor, close'), { code: 'EBADF' }))).toBe(false);
    expect(isDiskFull('a string')).toBe(false);
  });

  it('becomes a load error naming the device and the file', () => {
    const error = diskFullError('/srv/out/deaths.parquet', new Error('ENOSPC'));
    expect(error).toBeInstanceOf(LoadError);
    expect(error.message).toBe('no space left on the device holding /srv/out (writing deaths.parquet)');
  });
});
