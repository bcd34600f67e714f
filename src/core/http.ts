import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { SourceError, errorMessage } from './errors.js';
import { withAtomicFile } from './atomic-file.js';
import { sleep } from './concurrency.js';
import { redact } from './redact.js';
import type { Logger } from './log.js';

export interface HttpOptions {
  /** Per-request limit for headers and for each body chunk. */
  timeoutMs: number;
  /** Extra attempts after the first, for 429, 5xx and network failures. */
  retries: number;
  /** First backoff; doubles each attempt, with jitter. Retry-After overrides it. */
  retryBaseMs: number;
  /** Longest single wait, whatever Retry-After asks for. */
  maxRetryWaitMs: number;
  userAgent: string;
  log: Logger;
}

export interface Validators {
  etag?: string | null;
  lastModified?: string | null;
}

export type DownloadResult =
  | { status: 'not-modified' }
  | { status: 'downloaded'; bytes: number; sha256: string; etag: string | null; lastModified: string | null; contentType: string | null };

export interface RequestInit {
  method?: 'GET' | 'PUT' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  status: number;
  contentType: string | null;
  body: Buffer;
}

export interface HttpClient {
  getText(url: string): Promise<string>;
  /**
   * Streams the body to `destination` atomically; a 304 leaves the file alone. `verify` sees the
   * complete temp file before it replaces the destination: throw to keep the previous file.
   */
  download(url: string, destination: string, validators?: Validators, verify?: (tempPath: string) => Promise<void>): Promise<DownloadResult>;
  /** Any method, the body in memory (API answers). 429, 5xx and network failures are retried; other answers are returned for the caller to judge. */
  request(url: string, init?: RequestInit): Promise<HttpAnswer>;
  close(): Promise<void>;
}

const RETRIABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export function createHttpClient(options: HttpOptions): HttpClient {
  // One keep-alive pool for the whole run: ONS serves every edition from one host. undici is loaded on
  // first use so commands that never fetch (and --help) start fast.
  let pool: Promise<{ agent: Dispatcher; dispatcher: Dispatcher; request: typeof import('undici').request }> | undefined;
  const connect = () =>
    (pool ??= import('undici').then(({ Agent, interceptors, request }) => {
      const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
      return { agent, dispatcher: agent.compose(interceptors.redirect({ maxRedirections: 5 })), request };
    }));

  async function withRetries<T>(url: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (let tryNumber = 0; ; tryNumber++) {
      try {
        return await attempt(AbortSignal.timeout(options.timeoutMs * 4));
      } catch (error) {
        const retriable = error instanceof SourceError ? error.retriable : true;
        if (!retriable || tryNumber >= options.retries) {
          if (error instanceof SourceError) throw error;
          throw new SourceError(`GET ${redact(url)} failed: ${describeNetworkError(error)}`, {
            retriable: true,
            cause: error,
            hint: 'check the network and the URL, then run again; finished downloads are kept',
          });
        }
        const wait = retryWait(error, tryNumber, options);
        options.log.warn(`GET ${redact(url)}: ${errorMessage(error)}; retry ${tryNumber + 1}/${options.retries} in ${(wait / 1000).toFixed(1)} s`);
        await sleep(wait);
      }
    }
  }

  async function send(url: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Dispatcher.ResponseData> {
    const { dispatcher, request } = await connect();
    const response = await request(url, {
      dispatcher,
      signal,
      headers: { 'user-agent': options.userAgent, accept: '*/*', ...headers },
    });
    if (response.statusCode === 304 || (response.statusCode >= 200 && response.statusCode < 300)) return response;
    await response.body.dump();
    throw new HttpStatusError(url, response.statusCode, header(response.headers, 'retry-after'));
  }

  return {
    async getText(url) {
      return withRetries(url, async (signal) => {
        const response = await send(url, signal);
        return response.body.text();
      });
    },

    async download(url, destination, validators = {}, verify) {
      return withRetries(url, async (signal) => {
        const conditional: Record<string, string> = {};
        if (validators.etag) conditional['if-none-match'] = validators.etag;
        if (validators.lastModified) conditional['if-modified-since'] = validators.lastModified;
        const response = await send(url, signal, conditional);
        if (response.statusCode === 304) {
          await response.body.dump();
          return { status: 'not-modified' } as const;
        }
        const expectedLength = Number(header(response.headers, 'content-length') ?? NaN);
        const hash = createHash('sha256');
        let bytes = 0;
        const measure = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            bytes += chunk.length;
            callback(null, chunk);
          },
        });
        await withAtomicFile(destination, async (temp) => {
          await pipeline(response.body, measure, createWriteStream(temp));
          if (Number.isFinite(expectedLength) && bytes !== expectedLength) {
            throw new SourceError(`GET ${redact(url)}: received ${bytes} bytes, Content-Length said ${expectedLength}`, { retriable: true });
          }
          await verify?.(temp);
        });
        return {
          status: 'downloaded',
          bytes,
          sha256: hash.digest('hex'),
          etag: header(response.headers, 'etag'),
          lastModified: header(response.headers, 'last-modified'),
          contentType: header(response.headers, 'content-type'),
        } as const;
      });
    },

    async request(url, init = {}) {
      return withRetries(url, async (signal) => {
        const { dispatcher, request } = await connect();
        const response = await request(url, {
          dispatcher,
          signal,
          method: init.method ?? 'GET',
          body: init.body,
          headers: { 'user-agent': options.userAgent, accept: 'application/json', ...init.headers },
        });
        if (RETRIABLE_STATUS.has(response.statusCode) || response.statusCode >= 500) {
          await response.body.dump();
          throw new HttpStatusError(url, response.statusCode, header(response.headers, 'retry-after'));
        }
        const body = Buffer.from(await response.body.arrayBuffer());
        const expectedLength = Number(header(response.headers, 'content-length') ?? NaN);
        if (Number.isFinite(expectedLength) && body.length !== expectedLength) {
          throw new SourceError(`GET ${redact(url)}: received ${body.length} bytes, Content-Length said ${expectedLength}`, { retriable: true });
        }
        return { status: response.statusCode, contentType: header(response.headers, 'content-type'), body };
      });
    },

    close: async () => {
      if (pool) await (await pool).agent.close();
    },
  };
}

class HttpStatusError extends SourceError {
  constructor(readonly url: string, readonly status: number, readonly retryAfter: string | null) {
    super(`GET ${redact(url)} answered HTTP ${status}`, {
      retriable: RETRIABLE_STATUS.has(status),
      hint: status === 404 ? 'the page or file has moved: check --url' : status === 401 || status === 403 ? 'check the credentials for this source' : 'try again later',
    });
  }
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | null {
  const value = headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

function retryWait(error: unknown, tryNumber: number, options: HttpOptions): number {
  if (error instanceof HttpStatusError && error.retryAfter) {
    const seconds = Number(error.retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(error.retryAfter) - Date.now();
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, options.maxRetryWaitMs);
  }
  const exponential = options.retryBaseMs * 2 ** tryNumber;
  return Math.min(exponential / 2 + Math.random() * exponential / 2, options.maxRetryWaitMs);
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code;
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  return code ? `${code} (${errorMessage(error)})` : errorMessage(error);
}
