import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A JSON API on 127.0.0.1 written on raw sockets, so it can answer the way real servers do and Node's
 * own server would not: HTTP/1.0 close-after-response, `Connection: close` with no Content-Length
 * (close-delimited), a body cut short, besides ordinary keep-alive answers.
 */
export interface ApiRequest {
  method: string;
  /** Path and query, e.g. `/api/?results=5000&seed=x&page=1`. */
  path: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}

export interface ApiAnswer {
  status: number;
  body: string | Buffer;
  headers?: Record<string, string>;
  /**
   * keep-alive: HTTP/1.1 with Content-Length (default). close: HTTP/1.1, `Connection: close`, no
   * Content-Length. http10: an HTTP/1.0 status line, no Content-Length, closed after the body.
   * truncate: Content-Length of the whole body, half of it sent, then the connection dropped.
   */
  mode?: 'keep-alive' | 'close' | 'http10' | 'truncate';
  /** Answer only after this long (a slow server); a client that gives up first just closes the connection. */
  delayMs?: number;
  /** Answer only once this has settled (and delayMs after): an answer held back until the test has seen something happen. */
  after?: Promise<unknown>;
}

export type ApiHandler = (request: ApiRequest) => ApiAnswer;

export interface ApiServer {
  url: string;
  requests: ApiRequest[];
  /** Answers waiting for the next requests whose path starts with the prefix, before the handler is asked. */
  queue(pathPrefix: string, ...answers: ApiAnswer[]): void;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export async function startApiServer(handler: ApiHandler): Promise<ApiServer> {
  const requests: ApiRequest[] = [];
  const queued: Array<{ prefix: string; answer: ApiAnswer }> = [];
  const sockets = new Set<Socket>();

  const answerFor = (request: ApiRequest): ApiAnswer => {
    const index = queued.findIndex((q) => request.path.startsWith(q.prefix));
    if (index >= 0) return queued.splice(index, 1)[0]!.answer;
    return handler(request);
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const header of headerLines) {
          const colon = header.indexOf(':');
          headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
        buffer = buffer.subarray(end + 4 + length);
        const [method, target] = line!.split(' ');
        const request: ApiRequest = { method: method!, path: target!, url: new URL(target!, 'http://127.0.0.1'), headers, body };
        requests.push(request);
        const answer = answerFor(request);
        if (answer.delayMs || answer.after) {
          // The client sends nothing more on this connection until it has the answer (no pipelining).
          let timer: NodeJS.Timeout | undefined;
          void Promise.resolve(answer.after).finally(() => {
            timer = setTimeout(() => socket.destroyed || respond(socket, answer), answer.delayMs ?? 0);
          });
          socket.once('close', () => clearTimeout(timer));
          continue;
        }
        if (!respond(socket, answer)) return;
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queue: (prefix, ...answers) => queued.push(...answers.map((answer) => ({ prefix, answer }))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes one answer; false when the connection is finished. */
function respond(socket: Socket, answer: ApiAnswer): boolean {
  const body = Buffer.from(answer.body);
  const mode = answer.mode ?? 'keep-alive';
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...answer.headers };
  if (mode === 'keep-alive' || mode === 'truncate') headers['content-length'] = String(body.length);
  if (mode === 'close') headers.connection = 'close';
  const version = mode === 'http10' ? 'HTTP/1.0' : 'HTTP/1.1';
  const head = `${version} ${answer.status} ${REASONS[answer.status] ?? 'Status'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  if (mode === 'truncate') {
    socket.write(head);
    socket.write(body.subarray(0, Math.floor(body.length / 2)), () => socket.destroy());
    return false;
  }
  socket.write(head);
  if (mode === 'keep-alive') {
    socket.write(body);
    return true;
  }
  socket.end(body);
  return false;
}

export const json = (status: number, value: unknown, extra: Omit<ApiAnswer, 'status' | 'body'> = {}): ApiAnswer => ({ status, body: JSON.stringify(value), ...extra });
