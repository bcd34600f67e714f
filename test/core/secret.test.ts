import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../../src/core/api-client.js';
import { SourceError } from '../../src/core/errors.js';
import { isMetadataAddress } from '../../src/core/origin.js';
import { Secret, reveal, shown } from '../../src/core/secret.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { capturedIO, type CapturedIO } from '../helpers/source-io.js';

/** Issue 19 items 1-2 in-process: the Secret type, and the API client that keeps a credential with its origin. */
let server: ApiServer;
let elsewhere: ApiServer;
let io: CapturedIO;
beforeAll(async () => {
  server = await startApiServer((request) => (request.url.pathname === '/echo' ? json(200, { url: request.path, body: request.body, auth: request.headers['x-api-key'] ?? null }) : json(500, { error: `no ${request.path}` })));
  elsewhere = await startApiServer(() => json(200, { stolen: true }));
  io = capturedIO({ retries: 0 });
});
afterAll(async () => {
  await io.close();
  await server.close();
  await elsewhere.close();
});

const client = (origin?: string): ApiClient => createApiClient({ http: io.http, log: io.log, now: io.now, rateLimit: 0, credentialEnv: 'DEMO_TOKEN', baseUrlEnv: 'DEMO_BASE_URL', origin });
const failure = (promise: Promise<unknown>): Promise<SourceError> => promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error as SourceError);

describe('Secret', () => {
  it('prints, interpolates and serialises as its name; only reveal() gives the value', () => {
    const secret = new Secret('DEMO_TOKEN', 'v4lue-of-the-token');
    expect(`${secret}`).toBe('DEMO_TOKEN');
    expect(JSON.stringify({ secret })).toBe('{"secret":"DEMO_TOKEN"}');
    expect(inspect({ secret })).toBe('{ secret: Secret(DEMO_TOKEN) }');
    expect(Object.keys(secret)).toEqual(['name']);
    expect(shown(secret)).toBe('DEMO_TOKEN');
    expect(reveal(secret)).toBe('v4lue-of-the-token');
  });
});

describe('an API request carries its secrets typed', () => {
  it('the record and every message are built with the secret shown by name; the value goes only into what is sent', async () => {
    // `sid` and `x-api-key` are not names value masking knows for a URL parameter: what keeps them out is the type.
    const token = new Secret('DEMO_TOKEN', 'typed-t0ken-31');
    const url = (r: (s: Secret) => string) => `${server.url}/echo?sid=${encodeURIComponent(r(token))}&page=2`;
    const got = await client().send({ method: 'POST', url, form: [['sid', token], ['city', '3477']], headers: { 'x-api-key': token } });
    expect(JSON.parse(got.body.toString())).toEqual({ url: '/echo?sid=typed-t0ken-31&page=2', body: 'sid=typed-t0ken-31&city=3477', auth: 'typed-t0ken-31' });
    expect(got.request).toEqual({ method: 'POST', url: `${server.url}/echo?sid=DEMO_TOKEN&page=2`, body: 'sid=DEMO_TOKEN&city=3477' });

    const refused = await failure(client().send({ url: (r) => `${server.url}/fails?sid=${r(token)}` }));
    expect(refused.message).toBe(`GET ${server.url}/fails?sid=DEMO_TOKEN answered HTTP 500`);
    expect(io.lines.join('\n')).not.toContain('typed-t0ken-31');
  });
});

describe('a credential belongs to the origin it was configured for', () => {
  it('refuses, before sending, a request to another host name, port or scheme, or to a metadata address', async () => {
    const port = new URL(server.url).port;
    const api = client(`${server.url}/base/`);
    const before = server.requests.length;
    const refusals: string[] = [];
    for (const url of [
      `http://localhost:${port}/echo`,
      `${elsewhere.url}/echo`,
      `https://127.0.0.1:${port}/echo`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://2852039166/',
      'http://[fe80::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://100.100.100.200/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
    ]) {
      const error = await failure(api.send({ url: (r) => `${url}?sid=${r(new Secret('DEMO_TOKEN', 'origin-t0ken-5'))}` }));
      expect(error, url).toBeInstanceOf(SourceError);
      refusals.push(error.message);
    }
    expect(refusals).toEqual([
      `GET to http://localhost:${port} refused: not ${server.url}, the origin DEMO_TOKEN belongs to; nothing was sent there`,
      `GET to ${elsewhere.url} refused: not ${server.url}, the origin DEMO_TOKEN belongs to; nothing was sent there`,
      `GET to https://127.0.0.1:${port} refused: not ${server.url}, the origin DEMO_TOKEN belongs to; nothing was sent there`,
      ...['http://169.254.169.254', 'http://169.254.169.254', 'http://[fe80::1]', 'http://[::ffff:a9fe:a9fe]', 'http://metadata.google.internal', 'http://100.100.100.200', 'http://[fd00:ec2::254]'].map(
        (origin) => `GET to ${origin}, a link-local or cloud metadata address refused: not ${server.url}, the origin DEMO_TOKEN belongs to; nothing was sent there`,
      ),
    ]);
    expect(server.requests.length).toBe(before);
    expect(elsewhere.requests).toEqual([]);
    await expect(api.send({ url: `${server.url}/echo` })).resolves.toMatchObject({ status: 200 });
  });

  it('without a configured origin, the first request pins it', async () => {
    const api = client();
    await api.send({ url: `${server.url}/echo` });
    await expect(api.send({ url: `${elsewhere.url}/echo` })).rejects.toThrow(`GET to ${elsewhere.url} refused: not ${server.url}`);
    expect(elsewhere.requests).toEqual([]);
  });

  it("never follows an API's redirect: one line names where it pointed", async () => {
    server.queue('/moved', json(307, {}, { headers: { location: `${elsewhere.url}/steal?sid=x` } }), json(301, {}, { headers: { location: '/echo?token=abc&page=3' } }), json(302, {}, { headers: { location: 'http://169.254.169.254/' } }));
    const api = client(server.url);
    const messages = [];
    for (let i = 0; i < 3; i++) messages.push((await failure(api.send({ method: 'PUT', url: `${server.url}/moved`, form: [['a', 'b']] }))).message);
    expect(messages).toEqual([
      `PUT ${server.url}/moved answered HTTP 307, a redirect to another origin (${elsewhere.url}); not followed`,
      `PUT ${server.url}/moved answered HTTP 301, a redirect to ${server.url}/echo?page=3; not followed`,
      `PUT ${server.url}/moved answered HTTP 302, a redirect to another origin (http://169.254.169.254, a link-local or cloud metadata address); not followed`,
    ]);
    expect(elsewhere.requests).toEqual([]);
  });

  it('isMetadataAddress knows link-local and the cloud metadata names in their spellings', () => {
    const yes = ['http://169.254.0.1/', 'http://169.254.169.254./', 'http://0xa9fea9fe/', 'http://[fe80::]/', 'http://[febf::1]/', 'http://[::ffff:169.254.1.1]/', 'http://METADATA.google.internal./', 'http://100.100.100.200/', 'http://[fd00:ec2:0::254]/'];
    const no = ['http://169.253.1.1/', 'http://127.0.0.1/', 'http://[fec0::1]/', 'http://[fd00:ec2::253]/', 'http://api.supermetrics.com/', 'http://100.100.100.201/', 'http://metadata.google.internal.example/'];
    expect(yes.filter((url) => !isMetadataAddress(new URL(url)))).toEqual([]);
    expect(no.filter((url) => isMetadataAddress(new URL(url)))).toEqual([]);
  });
});
