import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/core/errors.js';
import { createHttpClient, type HttpClient } from '../../src/core/http.js';
import { createLogger } from '../../src/core/log.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';

let dir: string;
let server: FileServer;
let client: HttpClient;
const warnings: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-http-'));
  server = await startFileServer({ '/book.xlsx': { body: 'PK\u0003\u0004 workbook bytes' }, '/page': { body: '<html>page</html>', contentType: 'text/html' } });
  const log = createLogger({ stream: { write: (line: string) => warnings.push(line) } as unknown as NodeJS.WritableStream });
  client = createHttpClient({ timeoutMs: 2000, retries: 2, retryBaseMs: 10, maxRetryWaitMs: 50, userAgent: 'etl-test', log });
});
afterEach(() => {
  warnings.length = 0;
});
afterAll(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('createHttpClient', () => {
  it('retries 503 and 429 (honouring Retry-After) and then succeeds', async () => {
    server.fail('/page', { status: 503, times: 1 });
    server.fail('/page', { status: 429, times: 1, headers: { 'retry-after': '0' } });
    const before = server.requests.length;
    expect(await client.getText(`${server.url}/page`)).toBe('<html>page</html>');
    expect(server.requests.slice(before).map((r) => r.status)).toEqual([429, 200]);
    expect(warnings.join('')).toMatch(/answered HTTP 429; retry 1\/2/);
  });

  it('gives up after the retries with a retriable source error naming the URL', async () => {
    server.fail('/page?token=s3cret', { status: 502, times: 3 });
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

  it('downloads atomically and answers 304 on a conditional request', async () => {
    const target = path.join(dir, 'book.xlsx');
    const first = await client.download(`${server.url}/book.xlsx`, target);
    expect(first).toMatchObject({ status: 'downloaded', bytes: Buffer.byteLength('PK\u0003\u0004 workbook bytes'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    if (first.status !== 'downloaded') throw new Error('unreachable');
    const second = await client.download(`${server.url}/book.xlsx`, target, { etag: first.etag, lastModified: first.lastModified });
    expect(second).toEqual({ status: 'not-modified' });
    expect(await readFile(target, 'utf8')).toBe('PK\u0003\u0004 workbook bytes');
  });

  it('keeps the previous file when verification rejects the new body', async () => {
    const target = path.join(dir, 'kept.xlsx');
    await writeFile(target, 'previous good copy');
    const rejectAll = async (): Promise<void> => {
      throw new SourceError('not a workbook');
    };
    await expect(client.download(`${server.url}/page`, target, {}, rejectAll)).rejects.toThrow('not a workbook');
    expect(await readFile(target, 'utf8')).toBe('previous good copy');
    expect((await readdir(dir)).filter((name) => name.startsWith('.etl-tmp-'))).toEqual([]);
  });
});

describe('a server that drops the connection mid-body', () => {
  let raw: Server;
  let attempts = 0;

  beforeAll(async () => {
    // Promises 1000 bytes and sends 10 before hanging up, twice; then behaves.
    raw = createServer((socket) => {
      socket.once('data', () => {
        attempts++;
        const full = attempts > 2;
        const body = 'x'.repeat(full ? 1000 : 10);
        socket.end(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n${body}`);
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => raw.close(() => resolve())));

  it('retries and ends with the whole file, never a short one', async () => {
    const { port } = raw.address() as AddressInfo;
    const target = path.join(dir, 'dropped.bin');
    const result = await client.download(`http://127.0.0.1:${port}/file`, target);
    expect(result).toMatchObject({ status: 'downloaded', bytes: 1000 });
    expect((await readFile(target)).length).toBe(1000);
    expect(attempts).toBe(3);
  });
});
