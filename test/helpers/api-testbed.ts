import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startApiServer, type ApiHandler, type ApiServer } from './api-server.js';

/**
 * For an API source's test file: a work folder and a local API server for the file, a data directory of
 * its own for each test, and the server's request log emptied before each test.
 */
export interface ApiTestbed {
  readonly work: string;
  readonly server: ApiServer;
  readonly dataDir: string;
}

export function useApiTestbed(name: string, handler: ApiHandler): ApiTestbed {
  const bed = {} as { work: string; server: ApiServer; dataDir: string };
  beforeAll(async () => {
    bed.work = await mkdtemp(path.join(tmpdir(), `etl-${name}-`));
    bed.server = await startApiServer(handler);
  });
  afterAll(async () => {
    await bed.server?.close();
    if (bed.work) await rm(bed.work, { recursive: true, force: true });
  });
  beforeEach((context) => {
    bed.dataDir = path.join(bed.work, context.task.id);
    bed.server.requests.length = 0;
  });
  return bed;
}
