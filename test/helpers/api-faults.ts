import { expect } from 'vitest';
import type { ApiServer } from './api-server.js';
import type { CliResult } from './run-cli.js';

/**
 * The faults every API source must ride out or report, against the local server: 429 with
 * Retry-After, a 500, a body cut short, then `Connection: close` (all in one run, which succeeds);
 * an HTTP/1.0 answer (succeeds); a 401 (exit 3 at once, naming what to check); a body that is not
 * JSON (exit 3). `good` is a body the source accepts for the request `pathPrefix` matches.
 */
export async function expectFaultsHandled(server: ApiServer, pathPrefix: string, good: string, extract: () => Promise<CliResult>, credentialHint: RegExp): Promise<CliResult[]> {
  const results: CliResult[] = [];
  server.queue(pathPrefix, { status: 429, body: '{}', headers: { 'retry-after': '1' } }, { status: 500, body: 'oops' }, { status: 200, body: good, mode: 'truncate' }, { status: 200, body: good, mode: 'close' });
  const riding = await extract();
  results.push(riding);
  expect(riding.stderr).toMatch(/HTTP 429; retry 1\/\d+ in 1\.0 s/);
  expect(riding.stderr).toMatch(/HTTP 500; retry 2\//);
  expect(riding.code).toBe(0);

  server.queue(pathPrefix, { status: 200, body: good, mode: 'http10' });
  const old = await extract();
  results.push(old);
  expect(old.code).toBe(0);

  server.queue(pathPrefix, { status: 401, body: '{"error":"invalid credentials"}' });
  const before = server.requests.length;
  const refused = await extract();
  results.push(refused);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toMatch(/answered HTTP 401/);
  expect(refused.stderr).toMatch(credentialHint);
  expect(server.requests.length - before).toBe(1);

  server.queue(pathPrefix, { status: 200, body: '<html><body>Service temporarily unavailable</body></html>' });
  const html = await extract();
  results.push(html);
  expect(html.code).toBe(3);
  expect(html.stderr).toMatch(/did not answer JSON/);
  for (const result of results) expect(result.stderr).not.toMatch(/internal error|Assertion|    at /);
  return results;
}
