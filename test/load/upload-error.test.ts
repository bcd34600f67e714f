import { describe, expect, it } from 'vitest';
import { isNetworkFailure, isRetriableStatus } from '../../src/load/upload-error.js';

/**
 * Which failures etl retries whole (on top of the SDKs' own retries). The error shapes are the ones Node and the two
 * SDKs raise: a system error with `code`, an SDK error wrapping it as `cause`, and the GCS resumable upload's
 * plain Error that names the code only in its message.
 */
const systemError = (code: string, message = `read ${code}`): Error => Object.assign(new Error(message), { code });
const wrapped = (cause: unknown, depth: number): unknown => (depth === 0 ? cause : wrapped(new Error('request failed', { cause }), depth - 1));

describe('isNetworkFailure', () => {
  it.each([
    ['a reset connection', systemError('ECONNRESET')],
    ['a refused connection', systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9000')],
    ['an unknown host', systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND minio.internal')],
    ["undici's closed socket", systemError('UND_ERR_SOCKET', 'other side closed')],
    ['a code the message does not repeat (an error an SDK built)', systemError('ETIMEDOUT', 'Socket timed out')],
    ['a reset four causes deep', wrapped(systemError('ECONNRESET'), 4)],
    ['"socket hang up" without a code', new Error('socket hang up')],
    ['a premature close', new Error('Premature close')],
    ['an aborted request', new Error('The request was aborted')],
    ["GCS's resumable upload giving up", new Error('Retry limit exceeded - {"code":"ECONNRESET"}')],
  ])('%s is one', (_what, error) => {
    expect(isNetworkFailure(error)).toBe(true);
  });

  it.each([
    ['access denied', Object.assign(new Error('Access Denied'), { code: 'AccessDenied' })],
    ['a code that is not a string', Object.assign(new Error('bad request'), { code: 400 })],
    ['a reset five causes deep (past where etl looks)', wrapped(systemError('ECONNRESET'), 5)],
    ['a thrown string', 'ECONNRESET'],
    ['nothing', undefined],
  ])('%s is not', (_what, error) => {
    expect(isNetworkFailure(error)).toBe(false);
  });
});

describe('isRetriableStatus', () => {
  it('retries a timeout, throttling and every server error; not a client error or no status at all', () => {
    const statuses = [400, 401, 403, 404, 407, 408, 409, 428, 429, 499, 500, 501, 503, undefined];
    expect(statuses.filter(isRetriableStatus)).toEqual([408, 429, 500, 501, 503]);
  });
});
