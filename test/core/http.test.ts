import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, LoadError, SourceError } from '../../src/core/errors.js';
import { createHttpClient, type HttpClient, type HttpOptions } from '../../src/core/http.js';
import { createLogger } from '../../src/core/log.js';
import { startCloseDelimitedServer } from '../helpers/close-delimited-server.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { mountTmpfs, unmount } from '../helpers/tmpfs.js';

let dir: string;
let server: FileServer;
let client: HttpClient;
const warnings: string[] = [];
const log = createLogger({ stream: { write: (line: string) => warnings.push(line) } as unknown as NodeJS.WritableStream });

function clientWith(options: Partial<HttpOptions> = {}): HttpClient {
  return createHttpClient({ timeoutMs: 2000, retries: 3, retryBaseMs: 10, maxRetryWaitMs: 50, userAgent: 'etl-test', log, ...options });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-http-'));
  server = await startFileServer({ '/book.xlsx': { body: 'PK\u0003\u0004 workbook bytes' }, '/page': { body: '<html>page</html>', contentType: 'text/html' } });
  client = clientWith();
});
afterEach(() => {
  warnings.length = 0;
});
afterAll(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const served = (since: number, pathPrefix: string) => server.requests.slice(since).filter((r) => r.path.startsWith(pathPrefix));
const tempFilesIn = async (folder: string) => (await readdir(folder)).filter((name) => name.startsWith('.etl-tmp-'));

describe('createHttpClient: statuses', () => {
  it('retries 503 and 429 (honouring Retry-After) and then succeeds', async () => {
    server.fail('/page', { status: 503, times: 1 });
    server.fail('/page', { status: 429, times: 1, headers: { 'retry-after': '0' } });
    const before = server.requests.length;
    expect(await client.getText(`${server.url}/page`)).toBe('<html>page</html>');
    expect(served(before, '/page').map((r) => r.status)).toEqual([503, 429, 200]);
    expect(warnings.join('')).toMatch(/answered HTTP 503; retry 1\/3[\s\S]*answered HTTP 429; retry 2\/3 in 0\.0 s/);
  });

  it('retries a 429 without Retry-After with its own backoff', async () => {
    server.fail('/page', { status: 429, times: 2 });
    const before = server.requests.length;
    expect(await client.getText(`${server.url}/page`)).toBe('<html>page</html>');
    expect(served(before, '/page').map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('retries 500, 502 and 503 in a row and then succeeds', async () => {
    for (const status of [500, 502, 503]) server.fail('/book.xlsx', { status, times: 1 });
    const before = server.requests.length;
    const result = await client.download(`${server.url}/book.xlsx`, path.join(dir, 'after-5xx.xlsx'));
    expect(result.status).toBe('downloaded');
    expect(served(before, '/book.xlsx').map((r) => r.status)).toEqual([500, 502, 503, 200]);
  });

  it('gives up after the retries with a retriable source error naming the URL', async () => {
    server.fail('/page?token=s3cret', { status: 502, times: 4 });
    const failure = client.getText(`${server.url}/page?token=s3cret`);
    await expect(failure).rejects.toSatisfy((error) => error instanceof SourceError && error.retriable);
    await expect(failure).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/page\?token=REDACTED answered HTTP 502/);
    expect(warnings.join('')).not.toContain('s3cret');
  });

  it('does not retry a 404', async () => {
    const before = server.requests.length;
    await expect(client.getText(`${server.url}/missing`)).rejects.toThrow(/answered HTTP 404/);
    expect(server.requests.length - before).toBe(1);
  });
});

describe('createHttpClient: downloads', () => {
  it('downloads atomically and answers 304 on a conditional request', async () => {
    const target = path.join(dir, 'book.xlsx');
    const first = await client.download(`${server.url}/book.xlsx`, target);
    expect(first).toMatchObject({ status: 'downloaded', bytes: Buffer.byteLength('PK\u0003\u0004 workbook bytes'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    if (first.status !== 'downloaded') throw new Error('unreachable');
    const second = await client.download(`${server.url}/book.xlsx`, target, { etag: first.etag, lastModified: first.lastModified });
    expect(second).toEqual({ status: 'not-modified' });
    expect(await readFile(target, 'utf8')).toBe('PK\u0003\u0004 workbook bytes');
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('sends If-None-Match, and fetches a file whose ETag changed even though its Last-Modified did not', async () => {
    server.set('/etag.xlsx', { body: 'PK\u0003\u0004 first' });
    const target = path.join(dir, 'etag.xlsx');
    const first = await client.download(`${server.url}/etag.xlsx`, target);
    if (first.status !== 'downloaded') throw new Error('expected a download');
    server.set('/etag.xlsx', { body: 'PK\u0003\u0004 second' }, { keepLastModified: true });
    const before = server.requests.length;
    const second = await client.download(`${server.url}/etag.xlsx`, target, { etag: first.etag, lastModified: first.lastModified });
    const request = served(before, '/etag.xlsx')[0]!;
    expect(request.headers['if-none-match']).toBe(first.etag);
    expect(request.status).toBe(200);
    expect(second).toMatchObject({ status: 'downloaded', etag: expect.not.stringMatching(first.etag!) });
    expect(await readFile(target, 'utf8')).toBe('PK\u0003\u0004 second');
  });

  it('keeps the previous file when verification rejects the new body (an HTML error page with 200)', async () => {
    const target = path.join(dir, 'kept.xlsx');
    await writeFile(target, 'previous good copy');
    const rejectAll = async (): Promise<void> => {
      throw new SourceError('not a workbook');
    };
    await expect(client.download(`${server.url}/page`, target, {}, rejectAll)).rejects.toThrow('not a workbook');
    expect(await readFile(target, 'utf8')).toBe('previous good copy');
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('follows a redirect on the same host; the body of the redirect is not part of the file', async () => {
    server.fail('/moved.xlsx', { status: 301, times: 1, headers: { location: '/book.xlsx' }, body: '<html>Moved Permanently</html>' });
    const target = path.join(dir, 'moved.xlsx');
    const result = await client.download(`${server.url}/moved.xlsx`, target);
    const book = 'PK\u0003\u0004 workbook bytes';
    expect(result).toMatchObject({ status: 'downloaded', bytes: book.length, sha256: createHash('sha256').update(book).digest('hex') });
    expect(await readFile(target, 'utf8')).toBe(book);
  });

  it('follows a redirect from http to https on the same host, but not to another scheme', async () => {
    const noRetry = clientWith({ retries: 0 });
    server.fail('/tls.xlsx', { status: 301, times: 1, headers: { location: `${server.url.replace('http:', 'https:')}/book.xlsx` } });
    // Followed: this test server speaks plain HTTP, so the TLS handshake fails; a TLS failure is not retried.
    await expect(client.download(`${server.url}/tls.xlsx`, path.join(dir, 'tls.xlsx'))).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/tls\.xlsx failed: ERR_SSL_/);
    expect(warnings).toEqual([]);
    server.fail('/ftp.xlsx', { status: 301, times: 1, headers: { location: `${server.url.replace('http:', 'ftp:')}/book.xlsx` } });
    await expect(noRetry.download(`${server.url}/ftp.xlsx`, path.join(dir, 'ftp.xlsx'))).rejects.toThrow(/redirected to another host \(ftp:\/\/127\.0\.0\.1:\d+\); not followed/);
    await noRetry.close();
  });

  it('refuses a redirect to another host, once, with a clear error', async () => {
    const elsewhere = server.url.replace('127.0.0.1', 'localhost');
    server.fail('/away.xlsx', { status: 302, times: 1, headers: { location: `${elsewhere}/book.xlsx` } });
    const before = server.requests.length;
    const failure = client.download(`${server.url}/away.xlsx`, path.join(dir, 'away.xlsx'));
    await expect(failure).rejects.toThrow(/redirected to another host \(http:\/\/localhost:\d+\); not followed/);
    await expect(failure).rejects.toHaveProperty('hint', 'etl only follows redirects on the host it was given: pass the final address with --url if you trust it');
    expect(server.requests.length - before).toBe(1);
  });

  it('ends a redirect loop with a clear error, without retrying', async () => {
    server.fail('/loop-a', { status: 302, times: 10, headers: { location: '/loop-b' } });
    server.fail('/loop-b', { status: 302, times: 10, headers: { location: '/loop-a' } });
    const before = server.requests.length;
    const loop = client.getText(`${server.url}/loop-a`);
    await expect(loop).rejects.toThrow(/redirect loop \(\/loop-a -> \/loop-b -> \/loop-a\)/);
    await expect(loop).rejects.toHaveProperty('hint', 'the server redirects in a circle: check --url, or tell the site owner');
    expect(served(before, '/loop-').length).toBe(2);
    expect(warnings).toEqual([]);
  });

  it('fails fast on a host name that does not resolve, with a hint about the network', async () => {
    const failure = client.getText('http://etl-test.invalid/page');
    await expect(failure).rejects.toThrow(/cannot resolve host etl-test\.invalid \((ENOTFOUND|EAI_AGAIN)\)/);
    await expect(failure).rejects.toSatisfy((error) => error instanceof SourceError && !error.retriable && /network/.test(error.hint ?? ''));
    expect(warnings).toEqual([]);
  });
});

/** A raw-socket server whose answer to the n-th request (from 1) is up to `respond`. */
async function startRawServer(respond: (socket: Socket, attempt: number) => void): Promise<{ url: string; attempts: () => number; close: () => Promise<void> }> {
  let attempts = 0;
  const sockets = new Set<Socket>();
  const raw: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => respond(socket, ++attempts));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const { port } = raw.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    attempts: () => attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        raw.close(() => resolve());
      }),
  };
}

describe('servers that misbehave mid-body', () => {
  it('retries a body shorter than its Content-Length and ends with the whole file, never a short one', async () => {
    const raw = await startRawServer((socket, attempt) => {
      const body = 'x'.repeat(attempt > 2 ? 1000 : 10);
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n${body}`);
    });
    const target = path.join(dir, 'short.bin');
    const result = await client.download(`${raw.url}/file`, target);
    expect(result).toMatchObject({ status: 'downloaded', bytes: 1000 });
    expect((await readFile(target)).length).toBe(1000);
    expect(raw.attempts()).toBe(3);
    await raw.close();
  });

  it('retries a connection reset mid-body', async () => {
    const raw = await startRawServer((socket, attempt) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n`);
      if (attempt === 1) {
        socket.write('y'.repeat(5000), () => socket.resetAndDestroy());
        return;
      }
      socket.end('y'.repeat(100_000));
    });
    const target = path.join(dir, 'reset.bin');
    await writeFile(target, 'previous');
    expect(await client.download(`${raw.url}/file`, target)).toMatchObject({ status: 'downloaded', bytes: 100_000 });
    expect(warnings.join('')).toMatch(/ECONNRESET|other side closed|UND_ERR_SOCKET/);
    expect(raw.attempts()).toBe(2);
    await raw.close();
  });

  it('gives up on a stalled server after --timeout per attempt, retried, previous file intact', async () => {
    const raw = await startRawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc'));
    const stallClient = clientWith({ timeoutMs: 200, retries: 1 });
    const target = path.join(dir, 'stalled.bin');
    await writeFile(target, 'previous');
    await expect(stallClient.download(`${raw.url}/file`, target)).rejects.toThrow(/failed: no data for longer than --timeout/);
    expect(raw.attempts()).toBe(2);
    expect(await readFile(target, 'utf8')).toBe('previous');
    expect(await tempFilesIn(dir)).toEqual([]);
    await stallClient.close();
    await raw.close();
  });

  it('gives up on a server that accepts the connection and never answers, after --timeout per attempt', async () => {
    const silent = await startRawServer(() => undefined);
    const quick = clientWith({ timeoutMs: 200, retries: 1 });
    await expect(quick.getText(`${silent.url}/page`)).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/page failed: no data for longer than --timeout$/);
    expect(silent.attempts()).toBe(2);
    await quick.close();
    await silent.close();
  });

  it('bounds a whole download: a trickle that never trips the per-chunk timeout ends at the deadline', async () => {
    const raw = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
      const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write('z')), 20);
      socket.on('close', () => clearInterval(drip));
    });
    const trickleClient = clientWith({ timeoutMs: 2000, deadlineMs: 500, retries: 3 });
    const target = path.join(dir, 'trickle.bin');
    await expect(trickleClient.download(`${raw.url}/file`, target)).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/file did not finish within 0\.5 s$/);
    expect(raw.attempts()).toBe(1);
    expect(await tempFilesIn(dir)).toEqual([]);
    await trickleClient.close();
    await raw.close();
  });
});

describe('close-delimited responses (HTTP/1.0, Connection: close, no Content-Length)', () => {
  // Bodies far larger than the socket buffers, so the client is still draining when the server's FIN
  // arrives: with undici's own body stream this crashed the process (assert(!this.paused), nodejs/undici#5360).
  const body = createHash('sha256').update('seed').digest().toString('hex').repeat(120_000); // 7.7 MB
  const sha256 = createHash('sha256').update(body).digest('hex');

  it.each(['http/1.0', 'connection-close'] as const)('%s: 12 downloads in a row arrive whole', async (style) => {
    const closing = await startCloseDelimitedServer(style);
    closing.bodies.set('/big.xlsx', { body: Buffer.from(body) });
    closing.bodies.set('/page', { body: Buffer.from(`<html>${body}</html>`), contentType: 'text/html' });
    for (let run = 0; run < 12; run++) {
      const target = path.join(dir, `closing-${style.replace('/', '')}.xlsx`);
      const result = await client.download(`${closing.url}/big.xlsx`, target);
      expect(result).toMatchObject({ status: 'downloaded', bytes: body.length, sha256 });
    }
    expect((await client.getText(`${closing.url}/page`)).length).toBe(body.length + 13);
    expect(closing.requests).toBe(13);
    await closing.close();
  });
});

describe('what the client refuses, and how it says so', () => {
  it('a URL without an http(s) scheme is a usage error (exit 2) that suggests the fix, and nothing is retried', async () => {
    const noScheme = await client.getText('127.0.0.1:8080/page').catch((error: unknown) => error as ConfigError);
    expect(noScheme).toBeInstanceOf(ConfigError);
    expect(noScheme).toMatchObject({ exitCode: 2, hint: 'write it with its scheme, e.g. http://127.0.0.1:8080/page' });
    expect((noScheme as ConfigError).message).toBe('cannot GET 127.0.0.1:8080/page: not an http:// or https:// URL');
    const ftp = await client.download('ftp://127.0.0.1/book.xlsx', path.join(dir, 'ftp.xlsx')).catch((error: unknown) => error as ConfigError);
    expect(ftp).toMatchObject({ exitCode: 2, hint: 'etl downloads over http:// and https:// only' });
    await expect(client.request('not a url')).rejects.toThrow('cannot GET not a url: not an http:// or https:// URL');
    await expect(client.request('ftp://127.0.0.1/api', { method: 'PUT' })).rejects.toThrow('cannot PUT ftp://127.0.0.1/api: not an http:// or https:// URL');
    // A scheme further on (a query that carries a URL) does not make the address itself one.
    await expect(client.getText('example.com/go?to=http://example.org/')).rejects.toHaveProperty('hint', 'write it with its scheme, e.g. http://example.com/go?to=http://example.org/');
    expect(warnings).toEqual([]);
  });

  it('hints by status: 404 says the file moved, 401/403 the credentials, others to try later', async () => {
    const noRetry = clientWith({ retries: 0 });
    const statusOf = async (status: number) => {
      server.fail('/hinted', { status, times: 1 });
      return (await noRetry.getText(`${server.url}/hinted`).catch((error: unknown) => error)) as SourceError;
    };
    expect((await client.getText(`${server.url}/nowhere`).catch((error: unknown) => error)) as SourceError).toMatchObject({ retriable: false, hint: 'the page or file has moved: check --url' });
    for (const status of [401, 403]) expect(await statusOf(status)).toMatchObject({ retriable: false, hint: 'check the credentials for this source' });
    expect(await statusOf(410)).toMatchObject({ retriable: false, hint: 'try again later' });
    // 300 is not a redirect we follow, nor is a redirect status without a Location: errors, not empty pages.
    for (const status of [300, 302]) expect(await statusOf(status)).toMatchObject({ message: expect.stringMatching(new RegExp(`answered HTTP ${status}$`)), retriable: false });
    for (const status of [408, 425, 500, 502, 503, 504]) expect(await statusOf(status)).toMatchObject({ retriable: true });
    await noRetry.close();
  });

  it('a refused connection is retried, then reported with its code', async () => {
    const closed = await startRawServer(() => undefined);
    await closed.close();
    await expect(client.getText(`${closed.url}/page`)).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/page failed: ECONNREFUSED \(/);
    expect(warnings.filter((line) => line.includes('ECONNREFUSED'))).toHaveLength(3);
    await expect(client.getText(`${closed.url}/page`)).rejects.toHaveProperty('hint', 'check the network and the URL, then run again; finished downloads are kept');
    // The message names the method that failed.
    await expect(clientWith({ retries: 0 }).request(`${closed.url}/api`, { method: 'POST', body: 'x=1' })).rejects.toThrow(/^POST http:\/\/127\.0\.0\.1:\d+\/api failed: ECONNREFUSED \(/);
    // https is fetched (and fails here on the network), not refused as a scheme.
    await expect(clientWith({ retries: 0 }).getText(`${closed.url.replace('http:', 'https:')}/page`)).rejects.toBeInstanceOf(SourceError);
  });

  it('Retry-After as an HTTP date is honoured (a date past means no wait), and seconds within the limits are waited for', async () => {
    server.fail('/page', { status: 503, times: 1, headers: { 'retry-after': new Date(Date.now() - 5000).toUTCString() } });
    server.fail('/page', { status: 429, times: 1, headers: { 'retry-after': '0.05' } });
    expect(await client.getText(`${server.url}/page`)).toBe('<html>page</html>');
    expect(warnings.join('')).toMatch(/HTTP 503; retry 1\/3 in 0\.0 s[\s\S]*HTTP 429; retry 2\/3 in 0\.1 s/);
  });

  it('a Retry-After longer than etl waits (999999 s, a date hours ahead, past the deadline) fails at once, naming the time asked', async () => {
    const fails = async (http: HttpClient, retryAfter: string) => {
      server.fail('/page', { status: 429, times: 1, headers: { 'retry-after': retryAfter } });
      const before = server.requests.length;
      const started = Date.now();
      const failure = (await http.getText(`${server.url}/page`).catch((error: unknown) => error)) as SourceError;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(served(before, '/page')).toHaveLength(1);
      expect(failure).toBeInstanceOf(SourceError);
      expect(failure).toMatchObject({ retriable: false, hint: expect.stringMatching(/^the server asks to be left alone until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: run again after that$/) });
      return failure.message.replace(/127\.0\.0\.1:\d+/, 'host');
    };
    expect(await fails(client, '999999')).toBe('GET http://host/page answered HTTP 429 and asks to be retried in 11.6 days (Retry-After: 999999), longer than etl waits before a retry (0.05 s); not retried');
    expect(await fails(client, '3600')).toBe('GET http://host/page answered HTTP 429 and asks to be retried in 60 min (Retry-After: 3600), longer than etl waits before a retry (0.05 s); not retried');
    const date = new Date(Date.now() + 3 * 3_600_000 + 30_000).toUTCString();
    expect(await fails(client, date)).toBe(`GET http://host/page answered HTTP 429 and asks to be retried in 3 h (Retry-After: ${date}), longer than etl waits before a retry (0.05 s); not retried`);
    // Past any date a clock can show: still one clear error, never an internal one.
    server.fail('/page', { status: 503, times: 1, headers: { 'retry-after': '1e20' } });
    await expect(client.getText(`${server.url}/page`)).rejects.toMatchObject({ message: expect.stringContaining('(Retry-After: 1e20), longer than etl waits'), hint: 'the server asks etl never to come back: check with whoever runs it' });
    // Within the longest wait, but past what is left of the URL's deadline.
    const patient = clientWith({ deadlineMs: 1000, maxRetryWaitMs: 5000 });
    expect(await fails(patient, '2')).toMatch(/^GET http:\/\/host\/page answered HTTP 429 and asks to be retried in 2 s \(Retry-After: 2\), past the 1 s this URL may take \(--download-timeout; [\d.]+ s left\); not retried$/);
    await patient.close();
    expect(warnings).toEqual([]);
  });

  it('ends a chain of more than 5 redirects', async () => {
    for (let i = 0; i < 7; i++) server.fail(`/hop-${i}`, { status: 302, times: 1, headers: { location: `/hop-${i + 1}` } });
    const before = server.requests.length;
    const chain = client.getText(`${server.url}/hop-0`);
    await expect(chain).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/hop-0: more than 5 redirects$/);
    await expect(chain).rejects.toHaveProperty('hint', 'pass the final address with --url');
    expect(served(before, '/hop-').length).toBe(6);
  });

  it('credentials in the URL are sent as Basic auth, never in the message of a failure', async () => {
    const before = server.requests.length;
    const failure = (await client.getText(`${server.url.replace('://', '://me:pa%3Ass@')}/locked`).catch((error: unknown) => error)) as SourceError;
    expect(server.requests[before]!.headers.authorization).toBe(`Basic ${Buffer.from('me:pa:ss').toString('base64')}`);
    await client.getText(`${server.url.replace('://', '://t0ken@')}/page`);
    await client.getText(`${server.url}/page`);
    expect(server.requests.slice(-2).map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from('t0ken:').toString('base64')}`, undefined]);
    expect(server.requests.at(-1)!.headers.accept).toBe('*/*');
    expect(failure.message).not.toContain('pa%3Ass');
  });
});

describe('request (API answers)', () => {
  it('returns any 2xx or 4xx with its body and content type; retries 5xx; never follows a redirect', async () => {
    server.set('/api.json', { body: '{"ok":true}', contentType: 'application/json' });
    for (const status of [429, 500]) server.fail('/api.json', { status, times: 1 });
    const before = server.requests.length;
    const answer = await client.request(`${server.url}/api.json`);
    expect(answer).toEqual({ status: 200, contentType: 'application/json', location: null, body: Buffer.from('{"ok":true}') });
    expect(served(before, '/api.json').map((r) => [r.status, r.headers.accept])).toEqual([[429, 'application/json'], [500, 'application/json'], [200, 'application/json']]);
    // Any other 5xx is the server's fault too: an error, not an answer, and not retried.
    server.fail('/api.json', { status: 501, times: 1 });
    const since = server.requests.length;
    await expect(client.request(`${server.url}/api.json`, { method: 'PUT', body: '{}' })).rejects.toThrow(/^PUT http:\/\/127\.0\.0\.1:\d+\/api\.json answered HTTP 501$/);
    expect(served(since, '/api.json')).toHaveLength(1);
    expect(await client.request(`${server.url}/missing.json`)).toMatchObject({ status: 404, body: Buffer.from('not found') });
    server.fail('/api.json', { status: 301, times: 1, headers: { location: '/elsewhere' } });
    expect(await client.request(`${server.url}/api.json`)).toMatchObject({ status: 301, location: '/elsewhere' });
  });

  it('retries a body shorter than its Content-Length', async () => {
    const raw = await startRawServer((socket, attempt) => {
      const body = attempt === 1 ? '{"a"' : '{"a":1}';
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\n${body}`);
    });
    expect((await client.request(`${raw.url}/short`, { method: 'POST', body: 'x=1' })).body.toString()).toBe('{"a":1}');
    // undici itself notices the short body (UND_ERR_RES_CONTENT_LENGTH_MISMATCH); either way it is retried.
    expect(warnings.join('')).toMatch(/127\.0\.0\.1:\d+\/short.*(Content-Length said 7|CONTENT_LENGTH_MISMATCH).*; retry 1\/3/);
    await raw.close();
  });
});

describe('cancelling (another request of the run already failed)', () => {
  it('an aborted signal ends a request at once, in flight or waiting to retry, with the signal\'s reason and no retry after it', async () => {
    const patient = clientWith({ retryBaseMs: 10_000, maxRetryWaitMs: 10_000 });
    const reason = new SourceError('another request failed');
    try {
      // Waiting 10 s to retry a 503.
      server.set('/cancel.json', { body: '{}', contentType: 'application/json' });
      server.fail('/cancel.json', { status: 503, times: 1 });
      const waiting = new AbortController();
      const started = Date.now();
      const retrying = patient.request(`${server.url}/cancel.json`, { signal: waiting.signal });
      await vi.waitFor(() => expect(warnings.join('')).toMatch(/cancel\.json answered HTTP 503; retry 1\/3/));
      waiting.abort(reason);
      await expect(retrying).rejects.toBe(reason);
      // In flight: a server that never answers.
      const silent = await startRawServer(() => undefined);
      const inFlight = new AbortController();
      const hanging = patient.request(`${silent.url}/api`, { signal: inFlight.signal });
      await vi.waitFor(() => expect(silent.attempts()).toBe(1));
      inFlight.abort(reason);
      await expect(hanging).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(3000);
      // Already aborted: nothing is sent.
      await expect(patient.request(`${silent.url}/api`, { signal: inFlight.signal })).rejects.toBe(reason);
      expect(silent.attempts()).toBe(1);
      await silent.close();
      expect(warnings.join('').match(/retry/g)).toHaveLength(1);
    } finally {
      await patient.close();
    }
  });

  it('a request on a closed pool is not retried: a closed pool does not heal', async () => {
    const own = clientWith({ retries: 3, retryBaseMs: 1000 });
    expect(await own.getText(`${server.url}/page`)).toBe('<html>page</html>');
    await own.close();
    const started = Date.now();
    await expect(own.request(`${server.url}/api.json`)).rejects.toThrow(/failed: UND_ERR_(CLOSED|DESTROYED)/);
    expect(Date.now() - started).toBeLessThan(500);
    expect(warnings.join('')).not.toMatch(/retry/);
  });
});

describe('limits', () => {
  it('a retry that would end past the deadline is not waited for: the deadline error says what the last attempt met', async () => {
    // A backoff of 1 to 2 s (no Retry-After) would end past the deadline of 0.5 s.
    const patient = clientWith({ deadlineMs: 500, retryBaseMs: 2000, maxRetryWaitMs: 5000 });
    server.fail('/page', { status: 503, times: 1 });
    const before = server.requests.length;
    const failure = (await patient.getText(`${server.url}/page`).catch((error: unknown) => error)) as SourceError;
    expect(failure).toBeInstanceOf(SourceError);
    expect(failure).toMatchObject({ retriable: true, hint: 'the server is too slow or stalls: try again later, or raise --download-timeout' });
    expect(failure.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/page did not finish within 0\.5 s \(last attempt: GET http:\/\/127\.0\.0\.1:\d+\/page answered HTTP 503\)$/);
    expect(served(before, '/page').length).toBe(1);
    await patient.close();
  });

  it('a page or an API answer larger than 32 MiB is refused, not held in memory; 32 MiB itself is read', async () => {
    server.set('/huge', { body: Buffer.alloc(32 * 1024 * 1024, 'a'), contentType: 'text/html' });
    expect((await client.getText(`${server.url}/huge`)).length).toBe(32 * 1024 * 1024);
    expect((await client.request(`${server.url}/huge`)).body.length).toBe(32 * 1024 * 1024);
    server.set('/huge', { body: Buffer.alloc(32 * 1024 * 1024 + 1, 'a'), contentType: 'text/html' });
    const page = client.getText(`${server.url}/huge`);
    await expect(page).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/huge: the page is larger than 32 MiB$/);
    await expect(page).rejects.toHaveProperty('hint', 'check --url points at the dataset page');
    await expect(client.request(`${server.url}/huge`)).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/huge: the answer is larger than 32 MiB$/);
    await expect(client.request(`${server.url}/huge`, { method: 'PUT' })).rejects.toThrow(/^PUT http:\/\/127\.0\.0\.1:\d+\/huge: the answer is larger than 32 MiB$/);
    server.set('/huge', { body: 'small now' });
  });
});

describe('what else servers send', () => {
  it('sends no conditional header for a validator the last answer did not carry', async () => {
    const target = path.join(dir, 'validators.xlsx');
    const first = await client.download(`${server.url}/book.xlsx`, target);
    if (first.status !== 'downloaded') throw new Error('expected a download');
    const before = server.requests.length;
    expect(await client.download(`${server.url}/book.xlsx`, target, { etag: null, lastModified: first.lastModified })).toEqual({ status: 'not-modified' });
    expect(await client.download(`${server.url}/book.xlsx`, target, { etag: first.etag, lastModified: null })).toEqual({ status: 'not-modified' });
    const [byDate, byTag] = served(before, '/book.xlsx').map((r) => r.headers);
    expect(byDate).toHaveProperty('if-modified-since', first.lastModified);
    expect(byDate).not.toHaveProperty('if-none-match');
    expect(byTag).toHaveProperty('if-none-match', first.etag);
    expect(byTag).not.toHaveProperty('if-modified-since');
  });

  it('keeps the first of a repeated header', async () => {
    const raw = await startRawServer((socket) => socket.end('HTTP/1.1 200 OK\r\netag: "one"\r\netag: "two"\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'));
    expect(await client.download(`${raw.url}/file`, path.join(dir, 'twice.bin'))).toMatchObject({ status: 'downloaded', etag: '"one"' });
    await raw.close();
  });

  it('passes over a 103 Early Hints before the answer', async () => {
    const hinted = '<html>page</html>';
    const raw = await startRawServer((socket) =>
      socket.end(`HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: ${hinted.length}\r\nconnection: close\r\n\r\n${hinted}`),
    );
    expect(await client.getText(`${raw.url}/page`)).toBe(hinted);
    expect(await client.request(`${raw.url}/page`)).toEqual({ status: 200, contentType: 'text/html', location: null, body: Buffer.from(hinted) });
    await raw.close();
  });

  it('without Retry-After, waits half to all of a base that doubles each retry; Retry-After: 0 means no wait', async () => {
    // The jitter pinned at its midpoint: three quarters of 400 ms, then of 800 ms.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const patient = clientWith({ retryBaseMs: 400, maxRetryWaitMs: 10_000 });
    try {
      server.set('/backoff.json', { body: '{}', contentType: 'application/json' });
      server.fail('/backoff.json', { status: 503, times: 2 });
      server.fail('/backoff.json', { status: 429, times: 1, headers: { 'retry-after': '0' } });
      expect((await patient.request(`${server.url}/backoff.json`)).status).toBe(200);
      expect(warnings.join('').match(/retry \d\/3 in [\d.]+ s/g)).toEqual(['retry 1/3 in 0.3 s', 'retry 2/3 in 0.6 s', 'retry 3/3 in 0.0 s']);
    } finally {
      random.mockRestore();
      await patient.close();
    }
  });

  it('close() ends the pool: a closed client fetches nothing more', async () => {
    const own = clientWith({ retries: 0 });
    const before = server.requests.length;
    expect(await own.getText(`${server.url}/page`)).toBe('<html>page</html>');
    await own.close();
    await expect(own.getText(`${server.url}/page`)).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/page failed: UND_ERR_(CLOSED|DESTROYED) /);
    expect(server.requests.length - before).toBe(1);
  });
});

describe('a full disk', () => {
  let disk: string;
  let unavailable: string | undefined;
  beforeAll(async () => {
    disk = path.join(dir, 'small-disk');
    await mkdir(disk);
    unavailable = mountTmpfs(disk, 'size=256k');
    if (unavailable) console.warn(`[skip] a full disk: ${unavailable}`);
  });
  afterAll(() => {
    if (!unavailable) unmount(disk);
  });

  it('stops a download at the first write that fails, without reading the rest of the body', async (context) => {
    if (unavailable) context.skip();
    // A body with no end: only the failed write can stop it before the deadline.
    const endless = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = setInterval(() => (socket.destroyed ? clearInterval(pump) : socket.write(chunk)), 2);
      socket.on('close', () => clearInterval(pump));
    });
    const bounded = clientWith({ deadlineMs: 5000 });
    const failure = (await bounded.download(`${endless.url}/endless.bin`, path.join(disk, 'endless.bin')).catch((error: unknown) => error)) as LoadError;
    expect(failure).toBeInstanceOf(LoadError);
    expect(failure.message).toBe(`no space left on the device holding ${disk} (writing endless.bin)`);
    expect(endless.attempts()).toBe(1);
    expect(await readdir(disk)).toEqual([]);
    await bounded.close();
    await endless.close();
  });
});
