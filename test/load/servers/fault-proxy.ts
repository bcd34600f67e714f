import { createServer, request as forward, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP pass-through in front of a real store, so tests can see which requests our code made and make the
 * network misbehave: drop a connection mid-upload, flip a byte in transit, or answer as the cloud does when the
 * emulator cannot (401 for bad credentials, 404 for a missing bucket, 503 when throttled).
 */
export type FaultAction =
  | { kind: 'drop' }
  | { kind: 'corrupt' }
  | { kind: 'respond'; status: number; body: string; headers?: Record<string, string> };

export interface Fault {
  matches(request: { method: string; url: string; headers: IncomingHttpHeaders }): boolean;
  action: FaultAction;
  /** How many matching requests it hits; Infinity for all. */
  times: number;
}

export interface SeenRequest {
  method: string;
  url: string;
  fault?: FaultAction['kind'];
}

export interface FaultProxy {
  url: string;
  requests: SeenRequest[];
  /** Returns a function that removes the fault again. */
  addFault(fault: Fault): () => void;
  stop(): Promise<void>;
}

/** Requests carrying file bytes: PUT/POST bodies over 4 KiB or streamed. Small JSON/XML control requests are not. */
export function isUploadBody(request: { method: string; headers: IncomingHttpHeaders }): boolean {
  if (request.method !== 'PUT' && request.method !== 'POST') return false;
  const length = Number(request.headers['content-length'] ?? NaN);
  return Number.isFinite(length) ? length > 4096 : request.headers['transfer-encoding'] === 'chunked';
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const faults: Fault[] = [];
  const requests: SeenRequest[] = [];

  const takeFault = (incoming: IncomingMessage): FaultAction | undefined => {
    const request = { method: incoming.method ?? 'GET', url: incoming.url ?? '/', headers: incoming.headers };
    const fault = faults.find((candidate) => candidate.times > 0 && candidate.matches(request));
    if (!fault) return undefined;
    fault.times--;
    return fault.action;
  };

  const server = createServer(async (incoming, outgoing) => {
    const action = takeFault(incoming);
    requests.push({ method: incoming.method ?? 'GET', url: incoming.url ?? '/', ...(action ? { fault: action.kind } : {}) });
    if (action?.kind === 'respond') {
      incoming.resume();
      outgoing.writeHead(action.status, { 'content-type': 'application/json', ...action.headers }).end(action.body);
      return;
    }
    if (action?.kind === 'drop') {
      // Take part of the body, then cut the connection as a flaky network would.
      let received = 0;
      incoming.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 2048) incoming.socket.destroy();
      });
      incoming.on('end', () => incoming.socket.destroy());
      return;
    }
    let body: Buffer | undefined;
    if (action?.kind === 'corrupt') {
      const chunks: Buffer[] = [];
      for await (const chunk of incoming) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
      const middle = Math.floor(body.length / 2);
      body[middle] = body[middle]! ^ 0xff;
    }
    // The Host header is kept, so upload URLs the store hands out point back at the proxy.
    const upstreamRequest = forward({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    });
    upstreamRequest.on('error', () => outgoing.destroy());
    if (body) upstreamRequest.end(body);
    else incoming.pipe(upstreamRequest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addFault(fault) {
      faults.push(fault);
      return () => {
        faults.splice(faults.indexOf(fault), 1);
      };
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
