import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Just enough of the Chrome DevTools Protocol to drive a headless Chromium from a test: a WebSocket client
 * (RFC 6455 text frames; Node 20 has no WebSocket) and request/response plus events over it. No npm dependency.
 */
export interface CdpSession {
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  on(event: string, listener: (params: Record<string, unknown>) => void): void;
  close(): void;
}

export async function connectCdp(wsUrl: string): Promise<CdpSession> {
  const url = new URL(wsUrl);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    request({ host: url.hostname, port: url.port, path: url.pathname, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key } })
      .on('upgrade', (_response, upgraded) => resolve(upgraded))
      .on('response', (response) => reject(new Error(`no WebSocket upgrade: HTTP ${response.statusCode}`)))
      .on('error', reject)
      .end();
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const listeners = new Map<string, Array<(params: Record<string, unknown>) => void>>();
  let nextId = 1;
  let buffer = Buffer.alloc(0);
  let message: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const fin = (buffer[0]! & 0x80) !== 0;
      const opcode = buffer[0]! & 0x0f;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x8) return socket.end();
      if (opcode !== 0x1 && opcode !== 0x0) continue;
      message.push(payload);
      if (!fin) continue;
      const data = JSON.parse(Buffer.concat(message).toString('utf8')) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      message = [];
      if (data.id !== undefined) {
        const waiter = pending.get(data.id);
        pending.delete(data.id);
        if (data.error) waiter?.reject(new Error(data.error.message));
        else waiter?.resolve(data.result);
      } else if (data.method) {
        for (const listener of listeners.get(data.method) ?? []) listener(data.params ?? {});
      }
    }
  });
  const sendFrame = (text: string): void => {
    const payload = Buffer.from(text, 'utf8');
    const mask = randomBytes(4);
    const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : payload.length < 65536 ? Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(payload.length)); return b; })()]);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    socket.write(Buffer.concat([header, mask, masked]));
  };
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        sendFrame(JSON.stringify({ id, method, params }));
      }),
    on: (event, listener) => listeners.set(event, [...(listeners.get(event) ?? []), listener]),
    close: () => socket.destroy(),
  };
}

export interface Browser {
  /** The DevTools HTTP endpoint, e.g. http://127.0.0.1:9222. */
  endpoint: string;
  process: ChildProcess;
  close(): Promise<void>;
}

/** Headless Chromium with remote debugging on a free port, a throwaway profile. */
export async function launchChromium(binary: string, profileDir: string): Promise<Browser> {
  const child = spawn(binary, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--remote-debugging-port=0', `--user-data-dir=${profileDir}`, '--window-size=1200,900', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const found = /DevTools listening on ws:\/\/([^/]+)\//.exec(stderr);
      if (found) resolve(`http://${found[1]}`);
    });
    child.on('exit', (code) => reject(new Error(`chromium exited ${code} before listening: ${stderr}`)));
  });
  return {
    endpoint,
    process: child,
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
