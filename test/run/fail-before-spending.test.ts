import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/**
 * A pipeline whose destination cannot be written fails before it spends: no request to the source, nothing
 * written in the data dir, exit 2, and `etl plan`, `etl run --dry-run` and `etl run` say the same thing.
 * The source is a local stand-in server that counts every request it receives.
 */
let work: string;
let server: Server;
let url: string;
let requests = 0;
/** No region anywhere: not in the environment, not in a profile. */
let noRegion: Record<string, string>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-spend-'));
  server = createServer((request, response) => {
    requests++;
    response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  // The children inherit this process's environment: a region set here would hide the fault under test.
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  delete process.env.AWS_PROFILE;
  const missing = path.join(work, 'no-such-aws-file');
  noRegion = { AWS_CONFIG_FILE: missing, AWS_SHARED_CREDENTIALS_FILE: missing, HOME: work, AWS_EC2_METADATA_DISABLED: 'true' };
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await rm(work, { recursive: true, force: true });
});

/**
 * Runs `etl run`, `etl run --dry-run` and `etl plan` with the same flags; each must fail alike, having asked nothing
 * and written nothing. `etl run` is the built CLI where `asProcess` (the first case); everything else goes through
 * its `main` in this process (test/helpers/cli-in-process.ts), its error line compared with the first run's. The
 * cases about a secret not being printed too: each in-process session starts with no secret registered, as a process.
 */
async function everyWayFails(name: string, args: string[], env: Record<string, string> = {}, asProcess = false): Promise<CliResult> {
  const dataDir = path.join(work, name);
  const before = requests;
  const results: CliResult[] = [];
  for (const command of [['run'], ['run', '--dry-run'], ['plan']]) {
    const commandLine = [command[0]!, ...args, ...command.slice(1), '--data-dir', dataDir];
    results.push(await (asProcess && results.length === 0 ? runCli : runCliInProcess)(commandLine, { cwd: work, env }));
  }
  const [run] = results;
  for (const result of results) {
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toBe(run!.stderr);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(requests - before).toBe(0);
  expect(await readdir(dataDir).catch(() => [])).toEqual([]);
  return run!;
}

async function config(name: string, text: string): Promise<string> {
  const file = path.join(work, `${name}.yaml`);
  await writeFile(file, text);
  return file;
}

describe('a destination that cannot be written stops the pipeline before its first request', () => {
  it('s3:// with no region anywhere: exit 2, 0 requests, nothing written', async () => {
    const run = await everyWayFails('s3-no-region', ['ons', '--url', url, '--bucket', 's3://b/x/'], noRegion, true);
    expect(run.stderr).toMatch(/^etl: config error: no AWS region set for s3:\/\/b\/ \(pass --region/);
  });

  it("a config file's destination bucket that is no bucket URL: named by file and field, 0 requests", async () => {
    const file = await config('bare-bucket', `pipelines:\n  p:\n    source: ons\n    options: { url: "${url}" }\n    destination: { bucket: lake/ons/ }\n`);
    const run = await everyWayFails('bare-bucket', ['--config', file]);
    expect(run.stderr).toContain(`${file}: pipelines.p.destination.bucket: --bucket lake/ons/ is neither a bucket URL nor a local path`);
  });

  it("a config file's s3 destination with no region: 0 requests", async () => {
    const file = await config('cfg-no-region', `pipelines:\n  p:\n    source: ons\n    options: { url: "${url}" }\n    destination: { bucket: s3://lake/ons/ }\n`);
    const run = await everyWayFails('cfg-no-region', ['--config', file], noRegion);
    expect(run.stderr).toContain(`${file}: pipelines.p: no AWS region set for s3://lake/`);
  });

  it('a Postgres destination from a config holding a password is refused without echoing it; one with no table too', async () => {
    const file = await config('pg-password', `pipelines:\n  p:\n    source: ons\n    options: { url: "${url}", table: ons.deaths }\n    destination: { bucket: "postgres://etl:hunter2@127.0.0.1:1/db" }\n`);
    const run = await everyWayFails('pg-password', ['--config', file]);
    expect(run.stderr).toContain('the URL holds a password');
    expect(run.stderr).not.toContain('hunter2');
    const noTable = await config('pg-no-table', `pipelines:\n  p:\n    source: ons\n    options: { url: "${url}" }\n    destination: { bucket: "postgres://etl@127.0.0.1:1/db" }\n`);
    expect((await everyWayFails('pg-no-table', ['--config', noTable])).stderr).toContain('needs --table');
  });

  it('a key template with an unknown placeholder, from a config: 0 requests', async () => {
    const file = await config('bad-key', `pipelines:\n  p:\n    source: ons\n    options: { url: "${url}" }\n    destination: { bucket: ./out/, key: "{nme}" }\n`);
    const run = await everyWayFails('bad-key', ['--config', file]);
    expect(run.stderr).toContain(`${file}: pipelines.p.destination.key: --key "{nme}" has unknown placeholder {nme}`);
  });

  it('an alert webhook that is no http(s) URL: 0 requests, and the URL is not echoed', async () => {
    const run = await everyWayFails('bad-alert', ['ons', '--url', url, '--alert-url', 'hooks.example/T0/secret-token']);
    expect(run.stderr).toContain('the alert webhook');
    expect(run.stderr).not.toContain('secret-token');
  });

  it('the same pipeline with a region goes as far as the source (the stand-in answers 404: exit 3), so the check is no blanket refusal', async () => {
    const before = requests;
    const result = await runCliInProcess(['run', 'ons', '--url', url, '--bucket', 's3://b/x/', '--region', 'eu-west-2', '--data-dir', path.join(work, 'with-region')], { cwd: work, env: noRegion });
    expect(result.code, result.stderr).toBe(3);
    expect(requests - before).toBeGreaterThan(0);
  });
});
