import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A server written on raw sockets, so it answers the way `python3 -m http.server`, old mirrors and
 * proxies do and Node's own http server never would: `HTTP/1.0` or `Connection: close`, no
 * Content-Length, the body delimited only by closing the connection.
 */
export type CloseDelimitedStyle = 'http/1.0' | 'connection-close';

export interface CloseDelimitedServer {
  url: string;
  /** Bodies served by path (the request line's target). A path not here answers 404, also close-delimited. */
  bodies: Map<string, { body: Buffer; contentType?: string }>;
  requests: number;
  close(): Promise<void>;
}

export async function startCloseDelimitedServer(style: CloseDelimitedStyle): Promise<CloseDelimitedServer> {
  const bodies = new Map<string, { body: Buffer; contentType?: string }>();
  const sockets = new Set<Socket>();
  const state = { requests: 0 };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      state.requests++;
      const target = head.split(' ')[1] ?? '/';
      const served = bodies.get(target);
      const statusLine = style === 'http/1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
      const connection = style === 'connection-close' ? 'Connection: close\r\n' : '';
      if (!served) {
        socket.end(`${statusLine} 404 Not Found\r\n${connection}Content-Type: text/plain\r\n\r\nnot found`);
        return;
      }
      socket.write(`${statusLine} 200 OK\r\n${connection}Content-Type: ${served.contentType ?? 'application/octet-stream'}\r\n\r\n`);
      // The whole body at once, then FIN: the close reaches the client while it is still draining.
      socket.end(served.body);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
