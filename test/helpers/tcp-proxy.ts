import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a server, which can cut every connection once a number of bytes has
 * passed in one direction: a connection dropped mid-COPY, a server gone mid-extract. It stops by itself with
 * close().
 */
export interface TcpProxy {
  port: number;
  /** From now on, connections are cut after `bytes` more bytes towards the server (`up`) or the client (`down`). */
  cutAfter(direction: 'up' | 'down', bytes: number): void;
  /** Connections cut so far. */
  cuts: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let rule: { direction: 'up' | 'down'; bytes: number } | undefined;
  const sockets = new Set<Socket>();
  const proxy: TcpProxy = {
    port: 0,
    cuts: 0,
    cutAfter(direction, bytes) {
      rule = { direction, bytes };
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const counted = { up: 0, down: 0 };
    const cutRule = rule;
    const relay = (from: Socket, to: Socket, direction: 'up' | 'down'): void => {
      from.on('data', (chunk: Buffer) => {
        counted[direction] += chunk.length;
        if (cutRule && cutRule.direction === direction && counted[direction] > cutRule.bytes) {
          proxy.cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        to.write(chunk);
      });
    };
    relay(client, upstream, 'up');
    relay(upstream, client, 'down');
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
