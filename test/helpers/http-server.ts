import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  body: Buffer | string;
  contentType?: string;
  /** Send the body in pieces of this many bytes, `delayMs` apart: a slow server, so a run can be caught mid-file. */
  pace?: { bytes: number; delayMs: number };
}

export interface LoggedRequest {
  path: string;
  status: number;
  /** Body bytes sent: 0 for a 304. */
  bytes: number;
  headers: IncomingMessage['headers'];
}

export interface FailurePlan {
  status: number;
  times: number;
  headers?: Record<string, string>;
  /** Sent with the status, as real servers send a short HTML page with a redirect or an error. */
  body?: string;
}

/**
 * A real HTTP server on 127.0.0.1 that serves recorded pages and workbooks the way ONS does: strong
 * ETags, Last-Modified, 304 on conditional requests. Failures can be planned per path; plans queue up
 * and are served in the order given.
 */
export interface FileServer {
  url: string;
  requests: LoggedRequest[];
  /** Serves new content at `path`; `keepLastModified` keeps the old Last-Modified (a refresh whose date did not move). */
  set(path: string, file: ServedFile, options?: { keepLastModified?: boolean }): void;
  fail(path: string, plan: FailurePlan): void;
  /**
   * Requests to `path` wait until the returned function is called (to catch a client mid-run); its `arrived`
   * settles once a request to `path` has reached the server and is waiting, so a test acts on an event, not a timer.
   */
  hold(path: string): (() => void) & { arrived: Promise<void> };
  close(): Promise<void>;
}

export interface FileServerOptions {
  /** Answer with `Connection: close` and close the socket after each response, as many real servers do. */
  closeAfterResponse?: boolean;
}

export async function startFileServer(files: Record<string, ServedFile> = {}, options: FileServerOptions = {}): Promise<FileServer> {
  const held = new Map<string, Promise<void>>();
  const arrivals = new Map<string, () => void>();
  const served = new Map<string, { file: ServedFile; etag: string; lastModified: string }>();
  const failures = new Map<string, FailurePlan[]>();
  const requests: LoggedRequest[] = [];
  let clock = Date.UTC(2024, 0, 1);

  const set = (path: string, file: ServedFile, options: { keepLastModified?: boolean } = {}): void => {
    const body = Buffer.from(file.body);
    const previous = served.get(path);
    if (!(options.keepLastModified && previous)) clock += 60_000; // each change is a minute newer, as a refreshed file would be
    const lastModified = options.keepLastModified && previous ? previous.lastModified : new Date(clock).toUTCString();
    served.set(path, { file: { ...file, body }, etag: `"${createHash('sha1').update(body).digest('hex')}"`, lastModified });
  };
  for (const [path, file] of Object.entries(files)) set(path, file);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    arrivals.get(path)?.();
    await held.get(path);
    if (options.closeAfterResponse) res.setHeader('connection', 'close');
    const log = (status: number, bytes: number): void => {
      requests.push({ path, status, bytes, headers: req.headers });
    };
    const failure = failures.get(path)?.[0];
    if (failure) {
      if (--failure.times <= 0) failures.get(path)!.shift();
      res.writeHead(failure.status, failure.headers ?? {});
      res.end(failure.body);
      log(failure.status, 0);
      return;
    }
    const entry = served.get(path);
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      log(404, 0);
      return;
    }
    const validators = { etag: entry.etag, 'last-modified': entry.lastModified };
    const ifNoneMatch = req.headers['if-none-match'];
    const ifModifiedSince = req.headers['if-modified-since'];
    const notModified = ifNoneMatch ? ifNoneMatch === entry.etag : ifModifiedSince ? Date.parse(ifModifiedSince) >= Date.parse(entry.lastModified) : false;
    if (notModified) {
      res.writeHead(304, validators);
      res.end();
      log(304, 0);
      return;
    }
    const body = entry.file.body as Buffer;
    res.writeHead(200, { ...validators, 'content-type': entry.file.contentType ?? 'application/octet-stream', 'content-length': body.length });
    const pace = entry.file.pace;
    if (!pace) {
      res.end(body);
      log(200, body.length);
      return;
    }
    let sent = 0;
    const sendNext = (): void => {
      if (res.destroyed) return;
      const piece = body.subarray(sent, sent + pace.bytes);
      sent += piece.length;
      if (sent < body.length) {
        res.write(piece);
        setTimeout(sendNext, pace.delayMs);
      } else {
        res.end(piece);
        log(200, body.length);
      }
    };
    sendNext();
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set,
    fail: (path, plan) => failures.set(path, [...(failures.get(path) ?? []), { ...plan }]),
    hold(path) {
      let release!: () => void;
      held.set(path, new Promise<void>((resolve) => (release = resolve)));
      const arrived = new Promise<void>((resolve) => arrivals.set(path, resolve));
      return Object.assign(() => {
        held.delete(path);
        arrivals.delete(path);
        release();
      }, { arrived });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
