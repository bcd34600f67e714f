import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * A dataset name picks folders under the data dir, so a name from the command line or a config is an
 * identifier: a path such as `../../../x` is refused (exit 2) before anything runs, nothing is written
 * anywhere and no request is made. The first refusal is the built CLI; the other runs go through its `main` in this
 * process (the same line and exit code, without a process start).
 */
const bed = useApiTestbed('dataset-names', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  return { status: 200, body: peoplePage({ results: Number(request.url.searchParams.get('results')), seed: 'names', page: 1 }) };
});

/** The test's folder: its data dir is `<folder>/data`, so `../../../escaped` from data/raw/random-person/ lands at `<folder>/escaped`. */
const folder = () => bed.dataDir;
const dataDir = () => path.join(folder(), 'data');
const common = () => ['--base-url', bed.server.url, '--data-dir', dataDir(), '--count', '1', '--seed', 'names'];
const RULE = /is not a name etl accepts: letters, digits, - and _, starting with a letter or digit, at most 64 characters/;

async function expectNothingRan(result: { code: number; stderr: string }): Promise<void> {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toMatch(RULE);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(bed.server.requests).toEqual([]);
  // Not the data dir (no lock, no run manifest), and nothing beside it.
  expect(await readdir(folder()).catch(() => [])).not.toContain('escaped');
  expect(await readdir(folder()).catch(() => [])).not.toContain('data');
}

describe('a dataset name that is a path is refused before anything runs', () => {
  const firstCommand = (name: string) => ['run', 'random-person', name, ...common()];
  it.each([
    ['run', firstCommand],
    ['extract', (name: string) => ['extract', 'random-person', name, ...common()]],
    ['transform', (name: string) => ['transform', 'random-person', name, '--data-dir', dataDir()]],
    ['plan', (name: string) => ['plan', 'random-person', name, ...common()]],
    ['cron', (name: string) => ['cron', 'random-person', name, ...common()]],
  ])('etl %s random-person ../../../escaped exits 2 naming the rule; nothing is written or fetched', async (_, args) => {
    await expectNothingRan(await (args === firstCommand ? runCli : runCliInProcess)(args('../../../escaped')));
  });

  it.each(['..', 'a/b', 'a\nb', 'x'.repeat(65)])('etl run refuses the name %j', async (name) => {
    await expectNothingRan(await runCliInProcess(['run', 'random-person', name, ...common()]));
  });

  it("a config's dataset: is refused naming the field, before anything runs", async () => {
    await import('node:fs/promises').then(({ mkdir }) => mkdir(folder(), { recursive: true }));
    const config = path.join(folder(), 'etl.json');
    await writeFile(config, JSON.stringify({ pipelines: { people: { source: 'random-person', dataset: '../../../escaped', options: { base_url: bed.server.url, count: 1, seed: 'names' } } } }));
    const result = await runCliInProcess(['run', '--config', config, '--data-dir', dataDir()]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/etl\.json: pipelines\.people\.dataset: "\.\.\/\.\.\/\.\.\/escaped" is not a name etl accepts/);
    expect(bed.server.requests).toEqual([]);
    expect((await readdir(folder())).sort()).toEqual(['etl.json']);
  });

  it('a good name still runs (the rule refuses paths, not datasets)', async () => {
    const result = await runCliInProcess(['run', 'random-person', 'people', ...common()]);
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(path.join(dataDir(), 'raw', 'random-person'))).toEqual(['people']);
  });
});
