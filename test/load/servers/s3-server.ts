import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** s3rver accepts this key pair and rejects unknown access key ids (it does not check v4 signatures). */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export interface RunningS3Server {
  url: string;
  /** s3rver's own HTTP server, for a caller that watches the requests (the bench counts parts in flight). */
  http: Server;
  stop(): Promise<void>;
}

/** A real S3-compatible server on a random loopback port, storing under a fresh temp directory. */
export async function startS3Server(buckets: readonly string[]): Promise<RunningS3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'etl-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    http: server.httpServer,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
