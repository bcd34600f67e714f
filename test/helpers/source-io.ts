import { createHttpClient, type HttpOptions } from '../../src/core/http.js';
import { createLogger } from '../../src/core/log.js';
import type { SourceIO } from '../../src/core/source.js';

/** The instant every in-process extract is run at, so manifests and reports can be compared whole. */
export const FIXED_NOW = new Date('2024-03-01T12:00:00.000Z');

export interface CapturedIO extends SourceIO {
  /** Every line the source logged (debug included), as a user running with --debug would read them. */
  lines: string[];
  close(): Promise<void>;
}

/**
 * What the CLI hands a source (src/run/steps.ts createSourceIO), for tests that call a source in-process:
 * the real HTTP client (fast retries), a logger whose lines are kept, and a fixed clock.
 */
export function capturedIO(http: Partial<HttpOptions> = {}, now: () => Date = () => FIXED_NOW): CapturedIO {
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push(line.replace(/\n$/, '')) } as unknown as NodeJS.WritableStream;
  const log = createLogger({ stream, interactive: false, debug: true });
  const client = createHttpClient({ timeoutMs: 2000, retries: 2, retryBaseMs: 5, maxRetryWaitMs: 20, userAgent: 'etl-test', log, ...http });
  return { http: client, log, now, lines, close: () => client.close() };
}
