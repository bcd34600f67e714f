import { createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Create-if-absent, as the clouds do it and the local stand-ins do not, in front of a stand-in:
 *
 * - S3 (since August 2024, https://aws.amazon.com/about-aws/whats-new/2024/08/amazon-s3-conditional-writes/):
 *   a PUT with `If-None-Match: *` is refused with 412 PreconditionFailed when the key exists. s3rver ignores the header.
 * - Cloud Storage: an upload with `ifGenerationMatch=0` is refused with 412 when a live object has the name. The
 *   firebase-tools emulator ignores the parameter.
 *
 * Conditional writes of one name are serialised here (existence check, then the write, under one lock per name), so
 * of two racing writers exactly one succeeds, as on the real store. Other requests pass through untouched.
 */
export interface ConditionalFront {
  url: string;
  /** Conditional writes refused so far (a test can see the path was taken). */
  refused: string[];
  /**
   * The next request matching `matches` (method and path, query left out) is held: never forwarded nor answered.
   * Resolves when it arrives, so a test can kill the writer at exactly that point of its work.
   */
  holdNext(matches: (method: string, path: string) => boolean): Promise<void>;
  stop(): Promise<void>;
}

type Store = 's3' | 'gcs';

export async function startConditionalFront(upstream: string, store: Store): Promise<ConditionalFront> {
  const target = new URL(upstream);
  const locks = new Map<string, Promise<void>>();
  const refused: string[] = [];
  const holds: Array<{ matches: (method: string, path: string) => boolean; arrived: () => void }> = [];

  const send = (method: string, path: string, headers: IncomingHttpHeaders, body?: Buffer) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const request = forward({ host: target.hostname, port: target.port, method, path, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      });
      request.on('error', reject);
      request.end(body);
    });

  /** The object a conditional write targets, and how to ask whether it exists; undefined for any other request. */
  const conditional = (incoming: IncomingMessage): { name: string; exists: () => Promise<boolean> } | undefined => {
    const url = new URL(incoming.url ?? '/', 'http://front');
    if (store === 's3' && incoming.method === 'PUT' && incoming.headers['if-none-match'] === '*') {
      // s3rver checks the access key id, not the signature: the PUT's own headers, less those of its body, serve for the HEAD.
      const headers = Object.fromEntries(Object.entries(incoming.headers).filter(([name]) => !/^(content-|if-none-match|transfer-encoding|x-amz-checksum|x-amz-sdk-checksum)/.test(name)));
      return { name: url.pathname, exists: async () => (await send('HEAD', url.pathname, headers)).status === 200 };
    }
    const bucket = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname)?.[1];
    if (store === 'gcs' && bucket && url.searchParams.get('ifGenerationMatch') === '0') {
      const name = url.searchParams.get('name');
      if (name === null) return undefined;
      return { name: `${bucket}/${name}`, exists: async () => (await send('GET', `/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`, { host: incoming.headers.host })).status === 200 };
    }
    return undefined;
  };

  const server = createServer(async (incoming, outgoing) => {
    const pathOnly = decodeURIComponent(new URL(incoming.url ?? '/', 'http://front').pathname);
    const nameParam = new URL(incoming.url ?? '/', 'http://front').searchParams.get('name');
    const hold = holds.findIndex((candidate) => candidate.matches(incoming.method ?? 'GET', nameParam ?? pathOnly));
    if (hold >= 0) {
      holds.splice(hold, 1)[0]!.arrived();
      return; // never answered: the writer waits here until it is killed
    }
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const condition = conditional(incoming);
    let release = () => {};
    if (condition) {
      const previous = locks.get(condition.name) ?? Promise.resolve();
      const mine = new Promise<void>((resolve) => { release = resolve; });
      locks.set(condition.name, previous.then(() => mine));
      await previous;
    }
    try {
      if (condition && (await condition.exists())) {
        refused.push(condition.name);
        const [contentType, text] = store === 's3'
          ? ['application/xml', '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>']
          : ['application/json', JSON.stringify({ error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.', errors: [{ reason: 'conditionNotMet', message: 'At least one of the pre-conditions you specified did not hold.' }] } })];
        outgoing.writeHead(412, { 'content-type': contentType }).end(text);
        return;
      }
      const answer = await send(incoming.method ?? 'GET', incoming.url ?? '/', incoming.headers, body);
      outgoing.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      outgoing.destroy();
    } finally {
      release();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    holdNext: (matches) => new Promise<void>((arrived) => holds.push({ matches, arrived })),
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
