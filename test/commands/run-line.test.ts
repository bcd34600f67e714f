import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/commands/run.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { runInProcess } from '../helpers/command-in-process.js';

/**
 * The one line `etl run` prints (src/commands/run.ts), for the summaries the plain-file runs of run-context.test.ts
 * do not produce: a Delta commit and a Hive-partitioned folder (in-process, a randomuser.me look-alike on 127.0.0.1).
 */

const bed = useApiTestbed('commands-run-line', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')), nat: q.get('nat') ?? undefined }) };
});

const runArgs = (...extra: string[]): string[] => ['random-person', '--base-url', bed.server.url, '--count', '7', '--seed', 'etl', '--rate-limit', '0', '--data-dir', bed.dataDir, ...extra];

describe('the line etl run prints for a Delta table and a partitioned folder', () => {
  it('a Delta commit: its version and the files added and removed, counted in words', async () => {
    const run = await runInProcess(runCommand, runArgs('--format', 'delta', '--out', path.join(bed.dataDir, 'lake', 'people')));
    expect(run.error).toBeUndefined();
    expect(run.stdout.replace(/^run [^:]+: /, '')).toBe('extract succeeded (1 downloaded, 0 unchanged), transform succeeded (7 rows, 1 input file, Delta version 0, 1 file added, 0 files removed)\n');
  });

  it('a partitioned folder: partitions rewritten and removed', async () => {
    const run = await runInProcess(runCommand, runArgs('--partition-by', 'nat', '--out', path.join(bed.dataDir, 'hive')));
    expect(run.error).toBeUndefined();
    expect(run.stdout.replace(/^run [^:]+: /, '')).toBe('extract succeeded (1 downloaded, 0 unchanged), transform succeeded (7 rows, 1 input file, 2 partitions rewritten, 0 partitions removed)\n');
  });
});
