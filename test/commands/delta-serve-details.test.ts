import http, { type Server } from 'node:http';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandContext } from '../../src/commands/context.js';
import { formatTable, formatVacuum } from '../../src/commands/delta-format.js';
import { inspectCommand } from '../../src/commands/inspect.js';
import { serveCommand } from '../../src/commands/serve.js';
import { vacuumCommand } from '../../src/commands/vacuum.js';
import type { TableDescription } from '../../src/delta/describe-table.js';
import { runInProcess } from '../helpers/command-in-process.js';

/**
 * What serve-vacuum.test.ts leaves out: Delta descriptions the golden tables do not have (a column that is not
 * null, two partition columns, a commit without timestamp or operation), a table named by a bare relative path or a file:// URL,
 * and `etl serve`'s flag edges and its --json line.
 */
const noContext = (): Promise<CommandContext> => Promise.reject(new Error('these tests run no command'));

const table: TableDescription = {
  location: 's3://lake/t/',
  version: 2,
  latest: 2,
  partitionColumns: ['year', 'area'],
  schema: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'note', type: 'string', nullable: true, metadata: {} },
  ] as TableDescription['schema'],
  protocol: { minReaderVersion: 1, minWriterVersion: 2 },
  files: [{ path: 'year=2020/area=E/part-0.parquet', partitionValues: { year: '2020', area: 'E' }, size: 10, rows: undefined }],
  rows: 0,
  history: [
    { version: 0, timestamp: undefined, operation: undefined, added: 1, removed: 0, engine: undefined },
    { version: 1, timestamp: '2024-01-01T00:00:00.000Z', operation: 'WRITE', added: 0, removed: 0, engine: '' },
  ],
  checkpoint: undefined,
};

describe('a Delta table as text', () => {
  it('not-null columns, several partition columns, 0 rows, unknown timestamps and operations', () => {
    expect(formatTable(table).split('\n')).toEqual([
      's3://lake/t/: Delta table, version 2 (latest), protocol reader 1 / writer 2',
      'partitioned by: year, area',
      'rows: 0',
      '',
      'schema:',
      '  id  long not null',
      '  note  string',
      '',
      'files (1):',
      '  year=2020/area=E/part-0.parquet  10 bytes',
      '',
      'history:',
      '  0  ?  ?  +1 -0',
      '  1  2024-01-01T00:00:00.000Z  WRITE  +0 -0',
    ]);
  });

  it('a vacuum that deletes several files lists each under the line', () => {
    expect(formatVacuum({ location: './t/', oldestKept: 3, latest: 5, deleted: ['a.parquet', 'b.parquet'], keptYoung: 1, dryRun: false }).split('\n')).toEqual([
      './t/: deleted 2 files; versions 3-5 stay readable; 1 unreferenced file(s) younger than the retention kept (a writer may be about to commit them)',
      '  a.parquet',
      '  b.parquet',
    ]);
  });
});

describe('a Delta table named by a path relative to the working directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(process.cwd(), '.tmp-delta-relative-'));
    await cp(path.resolve('test/fixtures/delta/golden/checkpoint'), path.join(dir, 'checkpoint'), { recursive: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a bare relative path is a local folder for vacuum and inspect, as ./path is', async () => {
    const bare = path.relative(process.cwd(), path.join(dir, 'checkpoint'));
    expect(bare).toMatch(/^\.tmp-delta-relative-/); // neither /, ./ nor ../
    const located = `${path.join(dir, 'checkpoint')}/`;
    for (const given of [bare, `./${bare}`]) {
      const vacuum = await runInProcess(vacuumCommand, [given, '--dry-run']);
      expect(vacuum.error, given).toBeUndefined();
      expect(vacuum.stdout).toBe(`${located}: would delete 0 files; version 14 stays readable\n`);
      const inspect = await runInProcess(inspectCommand, [given]);
      expect(inspect.error, given).toBeUndefined();
      expect(inspect.stdout.split('\n')[0]).toBe(`${located}: Delta table, version 14 (latest), protocol reader 1 / writer 2, read from checkpoint 10`);
    }
  });

  it('a file:// URL is the folder it names, not a relative path', async () => {
    const url = `file://${path.join(dir, 'checkpoint')}/`;
    const vacuum = await runInProcess(vacuumCommand, [url, '--dry-run']);
    expect(vacuum.error).toBeUndefined();
    expect(vacuum.stdout).toBe(`${path.join(dir, 'checkpoint')}/: would delete 0 files; version 14 stays readable\n`);
    const inspect = await runInProcess(inspectCommand, [url]);
    expect(inspect.error).toBeUndefined();
    expect(inspect.stdout.split('\n')[0]).toMatch(/: Delta table, version 14 \(latest\)/);
  });
});

describe('etl serve: flag edges and the --json line', () => {
  /** Options as parsed for `etl serve <args>`, the action replaced. */
  async function parsed(args: string[]): Promise<Record<string, unknown>> {
    const command = serveCommand(noContext).exitOverride().configureOutput({ outputError: () => {} });
    let options: Record<string, unknown> = {};
    command.action((flags: Record<string, unknown>) => {
      options = flags;
    });
    await command.parseAsync(args, { from: 'user' });
    return options;
  }

  it('the command is `serve`, the vacuum argument <table>', () => {
    expect(serveCommand(noContext).name()).toBe('serve');
    const vacuum = vacuumCommand(noContext);
    expect(vacuum.name()).toBe('vacuum');
    expect(vacuum.registeredArguments.map((argument) => [argument.name(), argument.required])).toEqual([['table', true]]);
  });

  it('--port 65535 and --query-timeout 0.001, 0.25, 12.5 and 3600 are accepted', async () => {
    expect((await parsed(['--port', '65535'])).port).toBe(65535);
    for (const seconds of ['0.001', '0.25', '12.5', '3600', '10']) expect((await parsed(['--query-timeout', seconds])).queryTimeout, seconds).toBe(Number(seconds));
  });

  it('loopback without a token serves with no --no-auth warning; --json prints one object with the URL', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'etl-serve-json-'));
    const listen = vi.spyOn(http.Server.prototype, 'listen');
    let server: Server | undefined;
    try {
      const { createCommandContext } = await import('../../src/commands/context.js');
      const { createLogger } = await import('../../src/core/log.js');
      let stdout = '';
      const logs: string[] = [];
      const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
      const stream = { write: (line: string) => (logs.push(line), true) } as unknown as NodeJS.WritableStream;
      const context = { ...(await createCommandContext({ json: true, debug: false, quiet: false }, out)), log: createLogger({ json: true, stream, interactive: false }) };
      let failed: unknown;
      void serveCommand(async () => context).parseAsync(['--port', '0', '--host', '127.0.0.255', '--data-dir', dir], { from: 'user' }).catch((error: unknown) => (failed = error));
      await vi.waitFor(() => {
        if (failed) throw new Error(`etl serve failed: ${String(failed)}`);
        expect(stdout).toContain('\n');
      }, { timeout: 15_000, interval: 20 });
      server = listen.mock.contexts.at(-1) as Server;
      const line = JSON.parse(stdout);
      expect(line).toEqual({ command: 'serve', url: expect.stringMatching(/^http:\/\/127\.0\.0\.255:\d+$/), data_dir: dir });
      expect(logs.join('')).not.toContain('--no-auth');
    } finally {
      listen.mockRestore();
      if (server) {
        server.closeAllConnections();
        await new Promise((resolve) => server!.close(resolve));
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
