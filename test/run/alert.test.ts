import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/core/log.js';
import { registerSecret } from '../../src/core/redact.js';
import { sendAlert } from '../../src/run/alert.js';
import type { RunManifest } from '../../src/run/run-manifest.js';

/**
 * The run alert in-process (src/run/alert.ts), against a local webhook, so that Stryker sees its mutants: what a cron
 * user is told when a night's run fails, and that an alert never changes how the run ends. The CLI form (a real run
 * with `alert:` in its config) is in test/run/pipeline.test.ts.
 */
interface Received {
  method: string;
  path: string;
  type: string | undefined;
  body: string;
}
let server: Server;
let base: string;
let received: Received[];
/** What the webhook answers, one handler per request in order; the last one repeats. */
let answers: Array<(res: ServerResponse) => void>;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ method: req.method!, path: req.url!, type: req.headers['content-type'], body });
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      answer(res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  answers = [status(200)];
});

function status(code: number, headers: Record<string, string> = {}): (res: ServerResponse) => void {
  return (res) => res.writeHead(code, headers).end('answer body');
}

function logger(): { log: Logger; lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const stream = { write: (line: string) => (lines.push(JSON.parse(line)), true) } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ json: true, debug: true, stream, interactive: false }), lines };
}

const failed: RunManifest = {
  run_id: '20261206T061500000Z-ons-monthly-deaths-3f9a',
  pipeline: 'ons/monthly-deaths',
  params: { source_flags: { url: 'http://user:params-secret@example.test/' } },
  etl_version: '0.1.0',
  pid: 4242,
  status: 'failed',
  started_at: '2026-12-06T06:15:00.000Z',
  ended_at: '2026-12-06T06:16:00.000Z',
  steps: [
    { name: 'extract', status: 'succeeded', started_at: '2026-12-06T06:15:00.000Z', duration_s: 12.5, attempts: 1, cache: 'ran', inputs: [], outputs: [] },
    { name: 'transform', status: 'failed', started_at: '2026-12-06T06:15:12.500Z', duration_s: 3, attempts: 2, cache: 'ran', inputs: [], outputs: [] },
  ],
  error: { step: 'transform', message: 'cannot read edition 2021 (token=alert-secret-value)', exit_code: 4 },
};
const succeeded: RunManifest = { ...failed, status: 'succeeded', steps: failed.steps.map((s) => ({ ...s, status: 'succeeded' as const })), error: undefined };

describe('sendAlert', () => {
  it('POSTs one JSON summary: the pipeline, its status, the failed step, exit code, error, times, host and steps; no parameters, no secret', async () => {
    registerSecret('alert-secret-value');
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hooks/T0/B0/xyz`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', path: '/hooks/T0/B0/xyz', type: 'application/json' });
    expect(JSON.parse(received[0]!.body)).toEqual({
      text: 'etl ons/monthly-deaths failed: cannot read edition 2021 (token=REDACTED)',
      pipeline: 'ons/monthly-deaths',
      run_id: failed.run_id,
      status: 'failed',
      failed_step: 'transform',
      exit_code: 4,
      error: 'cannot read edition 2021 (token=REDACTED)',
      started_at: '2026-12-06T06:15:00.000Z',
      ended_at: '2026-12-06T06:16:00.000Z',
      host: hostname(),
      etl_version: '0.1.0',
      steps: [
        { name: 'extract', status: 'succeeded', duration_s: 12.5, attempts: 1 },
        { name: 'transform', status: 'failed', duration_s: 3, attempts: 2 },
      ],
    });
    expect(received[0]!.body).not.toMatch(/params-secret|alert-secret-value/);
    expect(lines).toEqual([expect.objectContaining({ level: 'debug', msg: 'alert delivered (200)' })]);
  });

  it('a successful run: no error, no failed step, exit code 0', async () => {
    await sendAlert({ url: `${base}/hook`, onSuccess: true }, succeeded, logger().log);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ text: 'etl ons/monthly-deaths succeeded', status: 'succeeded', failed_step: null, exit_code: 0, error: null });
  });

  it('a 5xx or 429 is tried again, three times in all, then one warning naming only the host', async () => {
    answers = [status(503), status(429), status(200)];
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hook/secret-path`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(3);
    expect(lines.map((l) => l.level)).toEqual(['debug']);

    received = [];
    answers = [status(500)];
    const second = logger();
    const started = Date.now();
    await sendAlert({ url: `${base}/hook/secret-path`, onSuccess: false }, failed, second.log);
    // Waits 0.5 s, then 1 s, between the three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(received).toHaveLength(3);
    expect(second.lines).toEqual([expect.objectContaining({ level: 'warn', msg: `alert not delivered to ${new URL(base).host}: HTTP 500; the run's result stands` })]);
  });

  it('a 204 (no body) is delivered', async () => {
    answers = [(res) => res.writeHead(204).end()];
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(1);
    expect(lines.map((l) => l.msg)).toEqual(['alert delivered (204)']);
  });

  it('a 4xx other than 429 is not tried again', async () => {
    answers = [status(404)];
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(1);
    expect(lines.map((l) => l.msg)).toEqual([`alert not delivered to ${new URL(base).host}: HTTP 404; the run's result stands`]);
  });

  it('a redirect on the same origin is followed with the body POSTed again; to another origin it is not followed', async () => {
    answers = [status(307, { location: '/moved' }), status(302, { location: `${base}/moved-again` }), status(200)];
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, logger().log);
    expect(received.map((r) => [r.method, r.path, r.body.length > 0])).toEqual([
      ['POST', '/hook', true],
      ['POST', '/moved', true],
      ['POST', '/moved-again', true],
    ]);

    received = [];
    const other = base.replace('127.0.0.1', 'localhost');
    answers = [status(308, { location: `${other}/elsewhere` })];
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(1);
    expect(lines.map((l) => l.msg)).toEqual([`alert not delivered to ${new URL(base).host}: HTTP 308, a redirect to another origin (${new URL(other).origin}); not followed; the run's result stands`]);

    received = [];
    answers = [status(301, { location: 'http://[' })];
    const nowhere = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, nowhere.log);
    expect(nowhere.lines.map((l) => l.msg)).toEqual([`alert not delivered to ${new URL(base).host}: HTTP 301, a redirect to nowhere usable; not followed; the run's result stands`]);
  });

  it('a redirect status without Location is the answer; more than 3 redirects are not followed', async () => {
    answers = [status(302)];
    const { log, lines } = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, log);
    expect(received).toHaveLength(1);
    expect(lines.map((l) => l.msg)).toEqual([`alert not delivered to ${new URL(base).host}: HTTP 302; the run's result stands`]);

    received = [];
    answers = [status(303, { location: '/again' })];
    const loop = logger();
    await sendAlert({ url: `${base}/hook`, onSuccess: false }, failed, loop.log);
    expect(received).toHaveLength(4);
    expect(loop.lines.map((l) => l.msg)).toEqual([`alert not delivered to ${new URL(base).host}: more than 3 redirects; the run's result stands`]);
  });

  it('a webhook that cannot be reached: tried three times, one warning with the reason', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hook`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { log, lines } = logger();
    await sendAlert({ url, onSuccess: false }, failed, log);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(new RegExp(`^alert not delivered to ${new URL(url).host.replace(/\./g, '\\.')}: .*ECONNREFUSED.*; the run's result stands$`)) })]);
  });
});
