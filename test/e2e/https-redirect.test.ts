import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

/**
 * Issue 19 follow-up: an ONS download (`--url https://user:pass@host/…`) never follows a redirect from
 * https to plain http, and Basic credentials from --url go to the origin they were given with only.
 * A downgrade a real server can make keeps host and port (https://host/ -> http://host/): the test server
 * speaks TLS and plain HTTP on one port, and logs each request with the scheme it came by.
 */
const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const hasOpenssl = openssl.status === 0;

interface Seen {
  scheme: 'http' | 'https';
  path: string;
  headers: IncomingHttpHeaders;
}

let work: string;
let port: number;
let front: ReturnType<typeof createTcpServer>;
const seen: Seen[] = [];
/** path -> where it redirects (a 302), for each scheme; anything else is an empty dataset page. */
const redirects: Record<'http' | 'https', Record<string, string>> = { http: {}, https: {} };

function handler(scheme: 'http' | 'https') {
  return (request: IncomingMessage, response: ServerResponse): void => {
    seen.push({ scheme, path: request.url ?? '', headers: request.headers });
    const location = redirects[scheme][request.url ?? ''];
    if (location) response.writeHead(302, { location }).end();
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>no workbooks here</body></html>');
  };
}

beforeAll(async () => {
  if (!hasOpenssl) return;
  work = await mkdtemp(path.join(tmpdir(), 'etl-https-redirect-'));
  const [key, cert] = [path.join(work, 'key.pem'), path.join(work, 'cert.pem')];
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  const tls = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, handler('https'));
  const plain = createHttpServer(handler('http'));
  // One port, two protocols: a TLS handshake starts with byte 0x16, a plain request with a method name.
  front = createTcpServer((socket: Socket) => {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (first[0] === 0x16 ? tls : plain).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  port = (front.address() as AddressInfo).port;
});
afterAll(async () => {
  front?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function extractOns(url: string) {
  seen.length = 0;
  return runCli(['extract', 'ons', '--url', url, '--data-dir', path.join(work, 'data'), '--retries', '0'], {
    cwd: work,
    env: { NODE_EXTRA_CA_CERTS: path.join(work, 'cert.pem') },
  });
}

const basic = `Basic ${Buffer.from('user:s3cret-pass').toString('base64')}`;

describe('ONS downloads: a redirect keeps credentials with their origin and never downgrades to http', () => {
  if (!hasOpenssl) {
    if (process.env.CI) throw new Error('the https redirects must be tested in CI: openssl is not installed');
    it.skip('skipped: openssl is not installed (needed to make a certificate for the local https server)', () => {});
    return;
  }

  it('refuses a redirect from https to http on the same host and port: one line, exit 3, nothing sent over http', async () => {
    redirects.https['/page'] = `http://127.0.0.1:${port}/page`;
    const result = await extractOns(`https://user:s3cret-pass@127.0.0.1:${port}/page`);
    expect(result.code).toBe(3);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('etl: '))).toEqual([
      `etl: source error: GET https://REDACTED@127.0.0.1:${port}/page redirected from https to http (http://127.0.0.1:${port}/page); not followed (etl never downgrades to plain http (credentials from --url would travel in cleartext): fix the server, or pass an http:// address with --url if you trust the network)`,
    ]);
    // The https side was asked, with the credentials; the plain http side never was.
    expect(seen.map((s) => [s.scheme, s.path, s.headers.authorization])).toEqual([['https', '/page', basic]]);
    expect(result.stderr + result.stdout).not.toContain('s3cret-pass');
  });

  it('follows a redirect from http to https on the same host, without the credentials (another origin)', async () => {
    redirects.http['/old'] = `https://127.0.0.1:${port}/page-tls`;
    const result = await extractOns(`http://user:s3cret-pass@127.0.0.1:${port}/old`);
    // Followed: the https page has no workbook links, which is the source error this run ends with.
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/no \.xls\/\.xlsx links on the page/);
    expect(seen.map((s) => [s.scheme, s.path, s.headers.authorization])).toEqual([
      ['http', '/old', basic],
      ['https', '/page-tls', undefined],
    ]);
  });
});
