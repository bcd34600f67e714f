import http, { type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { cp, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inspectCommand } from '../../src/commands/inspect.js';
import { serveCommand } from '../../src/commands/serve.js';
import { vacuumCommand } from '../../src/commands/vacuum.js';
import { ConfigError } from '../../src/core/errors.js';
import { runInProcess, type InProcessResult } from '../helpers/command-in-process.js';
import { writeParquetWithDuckDb } from '../helpers/serve.js';

/**
 * `etl serve`, `etl vacuum` and `etl inspect` of a Delta table, in-process: the flags checked before a server
 * starts, the server a command starts (a real one on 127.0.0.1), and the lines vacuum and inspect print for
 * Delta tables copied from test/fixtures/delta/golden.
 */
const GOLDEN = path.resolve('test/fixtures/delta/golden');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-serve-vacuum-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const refusal = (result: { error?: unknown }): ConfigError => {
  expect(result.error).toBeInstanceOf(ConfigError);
  expect((result.error as ConfigError).exitCode).toBe(2);
  return result.error as ConfigError;
};

/**
 * `etl serve` expected to stop before it listens. A server that starts anyway serves until the process ends, so
 * the test fails after a few seconds instead of waiting for it.
 */
function serveRefusal(args: string[]): Promise<InProcessResult> {
  let timer: NodeJS.Timeout | undefined;
  const started = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etl serve ${args.join(' ')} was still running after 5 s: it started serving`)), 5000);
  });
  return Promise.race([runInProcess(serveCommand, args), started]).finally(() => clearTimeout(timer));
}

async function withEnv<T>(values: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  try {
    return await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('etl serve: refused before listening', () => {
  const missing = (): string => path.join(dir, 'no-such-data-dir');

  it('a non-loopback --host needs a token or --no-auth; loopback addresses need neither', async () => {
    for (const host of ['0.0.0.0', '10.1.2.3', '127.0.0.1.example.com', 'x127.0.0.1', '127.0.0', 'localhost.example.com', '::']) {
      const error = refusal(await serveRefusal(['--host', host, '--data-dir', missing()]));
      expect(error.message, host).toBe(`--host ${host} is reachable from other machines, and no token is set`);
      expect(error.hint).toContain('add --token-env <VAR>');
      expect(error.hint).toContain('--no-auth');
    }
    // Past the host check, the missing data dir is what is refused.
    for (const host of ['127.0.0.1', '127.10.200.3', 'localhost', '::1']) {
      expect(refusal(await serveRefusal(['--host', host, '--data-dir', missing()])).message, host).toBe(`data dir ${missing()} does not exist`);
    }
    expect(refusal(await serveRefusal(['--host', '0.0.0.0', '--no-auth', '--data-dir', missing()])).message).toBe(`data dir ${missing()} does not exist`);
  });

  it('--token-env names a variable holding at least 16 characters', async () => {
    await withEnv({ ETL_TEST_SHORT_TOKEN: '123456789012345', ETL_TEST_TOKEN: '1234567890123456', ETL_TEST_EMPTY_TOKEN: '' }, async () => {
      delete process.env.ETL_TEST_UNSET_TOKEN;
      for (const variable of ['ETL_TEST_UNSET_TOKEN', 'ETL_TEST_EMPTY_TOKEN']) {
        const unset = refusal(await serveRefusal(['--token-env', variable, '--data-dir', missing()]));
        expect(unset.message).toBe(`--token-env ${variable}: the variable is not set or empty (looked in: environment, .env)`);
        expect(unset.hint).toBe(`set it to a long random value, e.g. export ${variable}=$(openssl rand -hex 24)`);
      }
      const short = refusal(await serveRefusal(['--token-env', 'ETL_TEST_SHORT_TOKEN', '--data-dir', missing()]));
      expect(short.message).toBe('--token-env ETL_TEST_SHORT_TOKEN: the token is 15 characters; at least 16 are needed');
      expect(short.hint).toContain('openssl rand -hex 24');
      // A token makes a non-loopback host acceptable: the data dir is the next thing checked.
      expect(refusal(await serveRefusal(['--host', '0.0.0.0', '--token-env', 'ETL_TEST_TOKEN', '--data-dir', missing()])).message).toBe(`data dir ${missing()} does not exist`);
    });
  });

  it('a data dir that is a file, or missing, is named with what to pass instead', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const error = refusal(await serveRefusal(['--data-dir', file]));
    expect(error.message).toBe(`data dir ${file} is not a folder`);
    expect(error.hint).toBe('pass --data-dir with the folder etl run writes to (default ./data), or run a pipeline first');
  });

  it('--port is 0 to 65535 and --query-timeout 0.001 to 3600 seconds, in decimal', async () => {
    const usage = async (args: string[]): Promise<string> => {
      const { error } = await serveRefusal(args);
      expect((error as { code?: string }).code, args.join(' ')).toBe('commander.invalidArgument');
      return (error as Error).message;
    };
    expect(await usage(['--port', '65536'])).toContain('expected a port number, 0 to 65535');
    expect(await usage(['--port', '-1'])).toContain('expected a whole number of 0 or more');
    for (const value of ['0', '0.0009', '3600.5', '1e3', '.5', '5.', 'ten', '']) expect(await usage(['--query-timeout', value]), value).toContain('expected seconds, from 0.001 to 3600, e.g. 10 or 0.5');
    for (const flag of ['--max-concurrent', '--max-rows', '--max-in']) expect(await usage([flag, '0'])).toContain('expected a whole number of 1 or more');
  });
});

describe('etl serve: the server it starts', () => {
  /** The action serves until the process stops; the test closes the server the command started itself. */
  async function serve(args: string[]): Promise<{ url: string; stdout: string; logs: string[]; server: Server }> {
    const listen = vi.spyOn(http.Server.prototype, 'listen');
    try {
      let stdout = '';
      const logs: string[] = [];
      const { createCommandContext } = await import('../../src/commands/context.js');
      const { createLogger } = await import('../../src/core/log.js');
      const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
      const stream = { write: (line: string) => (logs.push(line.trimEnd()), true) } as unknown as NodeJS.WritableStream;
      const context = { ...(await createCommandContext({ json: false, debug: false, quiet: false }, out)), log: createLogger({ json: false, stream, interactive: false }) };
      let failed: unknown;
      void serveCommand(async () => context).exitOverride().parseAsync(args, { from: 'user' }).catch((error: unknown) => (failed = error));
      await vi.waitFor(() => {
        if (failed) throw new Error(`etl serve failed: ${String(failed)}`);
        expect(stdout).toContain('listening on');
      }, { timeout: 15_000, interval: 20 });
      const server = listen.mock.contexts.at(-1) as Server;
      return { url: /listening on (\S+)/.exec(stdout)![1]!, stdout, logs, server };
    } finally {
      listen.mockRestore();
    }
  }

  const stop = (server: Server): Promise<void> => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

  it('passes its flags to the server: token, CORS origin, page size, list size; prints where it listens', async () => {
    const dataDir = path.join(dir, 'served');
    await mkdir(path.join(dataDir, 'processed', 'ons'), { recursive: true });
    await writeParquetWithDuckDb(path.join(dataDir, 'processed', 'ons', 'tiny.parquet'), 'SELECT range::INTEGER AS v FROM range(10)');
    await withEnv({ ETL_TEST_SERVE_TOKEN: 'a-token-of-24-characters' }, async () => {
      const { url, stdout, logs, server } = await serve(['--port', '0', '--data-dir', dataDir, '--token-env', 'ETL_TEST_SERVE_TOKEN', '--cors', 'https://page.example', '--max-rows', '7', '--max-in', '3']);
      try {
        expect(stdout).toBe(`etl serve: listening on ${url} (data dir ${dataDir}; Ctrl-C stops)\n`);
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(logs.join('\n')).not.toContain('--no-auth');
        const auth = { Authorization: 'Bearer a-token-of-24-characters' };
        const health = await fetch(`${url}/healthz`);
        expect(health.status).toBe(200);
        expect(health.headers.get('access-control-allow-origin')).toBe('https://page.example');
        expect((await fetch(`${url}/v1/datasets`)).status).toBe(401);
        expect(await (await fetch(`${url}/`)).text()).toContain('data-max-rows="7"');
        const page = await fetch(`${url}/v1/datasets/ons/tiny/rows?order=v`, { headers: auth });
        expect(page.status).toBe(200);
        expect(((await page.json()) as { rows: unknown[] }).rows).toHaveLength(7); // the default page: min(1000, --max-rows)
        const tooLong = await fetch(`${url}/v1/datasets/ons/tiny/rows?v__in=1,2,3,4`, { headers: auth });
        expect(tooLong.status).toBe(400);
        expect(await tooLong.text()).toContain('at most 3');
        expect((await fetch(`${url}/v1/datasets/ons/tiny/rows?v__in=1,2,3`, { headers: auth })).status).toBe(200);
      } finally {
        await stop(server);
      }
    });
  });

  it('--no-auth on every interface is said on stderr; a page holds 1000 rows at most by default', async () => {
    const dataDir = path.join(dir, 'served');
    const { url, logs, server } = await serve(['--port', '0', '--host', '0.0.0.0', '--no-auth', '--data-dir', dataDir]);
    try {
      expect(logs.join('\n')).toContain(`--no-auth: anyone who can reach ${url} can read every dataset in ${dataDir}/processed`);
      const port = new URL(url).port;
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('data-max-rows="10000"');
      expect((await fetch(`http://127.0.0.1:${port}/v1/datasets`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await stop(server);
    }
  });

  it('a port in use, or an address not of this machine, is a usage error saying what to do', async () => {
    const dataDir = path.join(dir, 'served');
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const inUse = refusal(await serveRefusal(['--port', String(port), '--data-dir', dataDir]));
      expect(inUse.message).toBe(`port ${port} on 127.0.0.1 is in use`);
      expect(inUse.hint).toBe('choose another with --port, or --port 0 for any free one');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    // 192.0.2.0/24 is reserved for documentation: never an address of this machine.
    const foreign = refusal(await serveRefusal(['--port', '0', '--host', '192.0.2.1', '--no-auth', '--data-dir', dataDir]));
    expect(foreign.message).toBe('--host 192.0.2.1 is not an address of this machine');
    expect(foreign.hint).toBe('use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)');
  });
});

describe('etl vacuum and etl inspect of a Delta table', () => {
  async function table(name: string): Promise<string> {
    const copy = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}`);
    await cp(path.join(GOLDEN, name), copy, { recursive: true });
    return copy;
  }
  const dataFiles = async (root: string): Promise<string[]> => (await readdir(root, { recursive: true })).filter((file) => file.endsWith('.parquet') && !file.startsWith('_delta_log')).sort();

  it('--dry-run lists what would go and deletes nothing; files younger than the retention are kept and counted', async () => {
    const root = await table('snapshot-data2-deleted');
    const before = await dataFiles(root);
    const kept = await runInProcess(vacuumCommand, [root, '--dry-run']);
    expect(kept.error).toBeUndefined();
    expect(kept.stdout).toBe(`${root}/: would delete 0 files; version 4 stays readable; 6 unreferenced file(s) younger than the retention kept (a writer may be about to commit them)\n`);
    const listed = await runInProcess(vacuumCommand, [root, '--retain', '0s', '--dry-run']);
    const [first, ...files] = listed.stdout.trimEnd().split('\n');
    expect(first).toBe(`${root}/: would delete 6 files; version 4 stays readable`);
    expect(files).toHaveLength(6);
    for (const file of files) expect(before).toContain(file.replace(/^ {2}/, ''));
    expect(await dataFiles(root)).toEqual(before);
  });

  it('without --dry-run the files go; a retention reaching before the first commit keeps every version', async () => {
    const root = await table('snapshot-data2-deleted');
    const all = await runInProcess(vacuumCommand, [root, '--retain', '20000d'], { json: true });
    expect(JSON.parse(all.stdout)).toMatchObject({ command: 'vacuum', dryRun: false, deleted: [], oldestKept: 0, latest: 4 });
    // Every file is read by a version inside the window: none is an orphan, none goes.
    expect((await runInProcess(vacuumCommand, [root, '--retain', '20000d'])).stdout).toBe(`${root}/: deleted 0 files; versions 0-4 stay readable\n`);
    const done = await runInProcess(vacuumCommand, [root, '--retain', '0s']);
    expect(done.stdout.split('\n')[0]).toBe(`${root}/: deleted 6 files; version 4 stays readable`);
    expect(await dataFiles(root)).toHaveLength(3);
  });

  it('one file is "1 file"; a retention that is no duration is a usage error', async () => {
    const root = await table('checkpoint');
    const orphan = path.join(root, 'part-orphan.parquet');
    await writeFile(orphan, 'left by a killed run');
    await utimes(orphan, new Date('2020-01-01'), new Date('2020-01-01'));
    expect((await runInProcess(vacuumCommand, [root, '--dry-run'])).stdout).toBe(`${root}/: would delete 1 file; version 14 stays readable\n  part-orphan.parquet\n`);
    const error = refusal(await runInProcess(vacuumCommand, [root, '--retain', '7 days']));
    expect(error.message).toContain('--retain 7 days: expected a number and a unit');
  });

  it('inspect: version, protocol, checkpoint, rows, schema, live files and history', async () => {
    const root = await table('basic-with-inserts-deletes-checkpoint');
    const { stdout, error } = await runInProcess(inspectCommand, [root]);
    expect(error).toBeUndefined();
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(`${root}/: Delta table, version 13 (latest), protocol reader 1 / writer 2, read from checkpoint 10`);
    expect(lines.slice(1, 7)).toEqual(['partitioned by: (none)', 'rows: 41', '', 'schema:', '  id  long', '']);
    expect(lines).toContain('files (7):');
    expect(lines).toContain('  part-00000-da82aeb5-4edb-4cc1-91ef-970c75c965cc-c000.snappy.parquet  527 bytes, 10 rows');
    expect(lines).toContain('history:');
    expect(lines).toContain('  5  2023-08-07T16:45:37.153Z  DELETE  +1 -1  Apache-Spark/3.4.0 Delta-Lake/3.0.0-SNAPSHOT');
    const older = await runInProcess(inspectCommand, [root, '--version-as-of', '3']);
    expect(older.stdout.split('\n')[0]).toBe(`${root}/: Delta table, version 3 of 13, protocol reader 1 / writer 2`);
  });

  it('inspect: partition columns, a table without stats, history without an engine', async () => {
    const root = await table('data-reader-escaped-chars');
    const lines = (await runInProcess(inspectCommand, [root])).stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([`${root}/: Delta table, version 2 (latest), protocol reader 1 / writer 2`, 'partitioned by: _2', 'rows: unknown (a file without stats)']);
    expect(lines).toContain('  _2=bar+%2521/part-00000-af08f887-922f-4c31-82a7-8e142c4280a6.c000.snappy.parquet  398 bytes');
    expect(lines).toContain('  0  2020-10-26T14:54:02.582Z  WRITE  +1 -0');
  });
});
