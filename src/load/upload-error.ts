import { LoadError, type ErrorDetails } from '../core/errors.js';

/**
 * How the orchestrator recovers from a failed upload:
 * - retry: throttling, 5xx, a dropped connection, a checksum mismatch; the same file may go through next time.
 * - file: this file cannot be uploaded (unreadable, rejected object); the other files carry on.
 * - destination: nothing will go through (credentials, missing bucket, no region); stop starting files.
 */
type Recovery = 'retry' | 'file' | 'destination';

export class UploadError extends LoadError {
  readonly recovery: Recovery;

  constructor(message: string, details: ErrorDetails & { recovery: Recovery }) {
    super(message, details);
    this.recovery = details.recovery;
  }
}

/** Network failures worth another attempt, whichever SDK raised them. */
const RETRIABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

export function isNetworkFailure(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && RETRIABLE_NETWORK_CODES.has(code)) return true;
    if (/socket hang up|other side closed|network|premature close|aborted/i.test(current.message)) return true;
    // The GCS SDK's resumable upload gives up with a plain Error whose message alone names the code.
    if ([...RETRIABLE_NETWORK_CODES].some((name) => current.message.includes(name))) return true;
  }
  return false;
}

export function isRetriableStatus(status: number | undefined): boolean {
  return status === 408 || status === 429 || (status !== undefined && status >= 500);
}
