import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, MAX_PIPELINES, MAX_VALUE_CHARS } from '../../src/run/config.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, startCli } from '../helpers/run-cli.js';

/**
 * Hostile and oversized config files: one clear error (exit 2) in bounded time, and a process that answers
 * SIGTERM at once whatever it is doing (reading a large allowed config, waiting on the source). The first refusal
 * and the signalled runs are the built CLI; the other refusals go through its `main` in this process (the same
 * line and exit code, without a process start).
 */
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-config-limits-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function config(name: string, text: string): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, text);
  return file;
}

const onePipeline = (options: string): string => `pipelines:\n  p:\n    source: ons\n    options: { ${options} }\n`;

/** A config just under the size cap: MAX_PIPELINES pipelines, each a long --input list (several seconds of YAML parsing here). */
function largeAllowedConfig(): string {
  let text = 'pipelines:\n';
  for (let i = 0; i < MAX_PIPELINES; i++) {
    const inputs = Array.from({ length: 130 }, (_, j) => `"/data/in/file-${i}-${j}.xls"`).join(', ');
    text += `  p${i}:\n    source: ons\n    options:\n      url: "http://127.0.0.1:1/page"\n      input: [${inputs}]\n    destination: { bucket: ./out/ }\n`;
  }
  return text;
}

describe('a config file is bounded before it is read', () => {
  it('a file over the size cap is refused by its size at once, unread', async () => {
    const file = await config('huge.yaml', onePipeline(`url: "${'a'.repeat(MAX_CONFIG_BYTES)}"`));
    const started = performance.now();
    const result = await runCli(['plan', '--config', file], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: ${(await stat(file)).size} bytes, more than a config file may hold (4 MiB)`);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('one value longer than the cap is refused, named by its path', async () => {
    const file = await config('long-value.yaml', onePipeline(`url: "http://example.org/${'a'.repeat(MAX_VALUE_CHARS)}"`));
    const result = await runCliInProcess(['plan', '--config', file], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: pipelines.p.options.url: a value of ${MAX_VALUE_CHARS + 19} characters, more than one may hold (${MAX_VALUE_CHARS})`);
  });

  it('more pipelines than the cap are refused', async () => {
    const pipelines = Array.from({ length: MAX_PIPELINES + 1 }, (_, i) => `  p${i}: { source: ons }`).join('\n');
    const result = await runCliInProcess(['plan', '--config', await config('many.yaml', `pipelines:\n${pipelines}\n`), 'p0'], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`pipelines: ${MAX_PIPELINES + 1} pipelines, more than a config file may declare (${MAX_PIPELINES})`);
  });

  it('YAML aliases expanding a billion times ("billion laughs") are refused at once', async () => {
    let text = 'a0: &a0 ["lol"]\n';
    for (let i = 1; i < 10; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
    const file = await config('laughs.yaml', `${text}pipelines: { p: { source: ons, options: { input: *a9 } } }\n`);
    const started = performance.now();
    const result = await runCliInProcess(['plan', '--config', file], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: not valid YAML: Excessive alias count`);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('config validation reports every error, each by file and field', () => {
  it('a mistyped source, an unknown option, a bad value and a missing bucket, in two pipelines: all four, and the likely source', async () => {
    const file = await config('four.yaml', 'pipelines:\n  a:\n    source: onz\n    options: { form: 2015, concurrency: x }\n  b:\n    source: ons\n    destination: { region: eu-west-2 }\n');
    const result = await runCliInProcess(['plan', '--config', file, 'a'], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`${file}: 4 errors: `);
    expect(result.stderr).toContain('pipelines.a.source: unknown source "onz" (did you mean "ons"?');
    expect(result.stderr).toContain('pipelines.a.options.form: unknown field');
    expect(result.stderr).toContain('pipelines.a.options.concurrency: expected a whole number of 0 or more, got "x"');
    expect(result.stderr).toContain('pipelines.b.destination.bucket: is required');
  });
});

describe('SIGTERM is answered within a second at any point', () => {
  it('while a large config under the caps is parsed and checked', async () => {
    const file = await config('large.yaml', largeAllowedConfig());
    expect((await stat(file)).size).toBeLessThan(MAX_CONFIG_BYTES);
    // The log file is created when the command starts, after etl's signal handlers are in place and before the config
    // is read: a signal sent at a fixed time after the spawn could land while a loaded machine still loads modules.
    const logFile = path.join(work, 'large.log');
    const { child, done } = startCli(['--log-file', logFile, 'plan', '--config', file, 'p0', '--data-dir', path.join(work, 'large-data')], { cwd: work });
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished && !(await stat(logFile).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 800));
    // Still at work: the signal arrives mid-parse, not after the end.
    expect(finished).toBe(false);
    const signalled = performance.now();
    child.kill('SIGTERM');
    const result = await done;
    expect(performance.now() - signalled).toBeLessThan(1000);
    expect(result.code).toBe(143);
    expect(result.stderr).toContain('interrupted by SIGTERM');
  });

  it('while a config pipeline waits on its source', async () => {
    let asked!: () => void;
    const request = new Promise<void>((resolve) => (asked = resolve));
    const server: Server = createServer(() => asked()); // never answers
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
      const file = await config('waiting.yaml', onePipeline(`url: "${url}"`));
      const { child, done } = startCli(['run', '--config', file, '--data-dir', path.join(work, 'waiting-data')], { cwd: work });
      await request;
      const signalled = performance.now();
      child.kill('SIGTERM');
      const result = await done;
      expect(performance.now() - signalled).toBeLessThan(1000);
      expect(result.code).toBe(143);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
