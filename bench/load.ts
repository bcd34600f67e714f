import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gcsEmulatorInstalled, startGcsEmulator } from '../test/load/servers/gcs-emulator.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../test/load/servers/s3-server.js';
import { runProcess, type Measurer, type Result, type Run } from './measure.js';

/**
 * The `etl load` scenarios: one large incompressible file uploaded by the real CLI, as whole processes, to s3rver
 * and the firebase-tools GCS emulator (both on 127.0.0.1, started here as the tests start them) and to a local
 * directory, each run to a fresh prefix so every run really uploads; then the same file again to S3 (skipped).
 */
export const LOAD_SCENARIOS = ['load-s3-256m', 'load-rerun-s3-256m', 'load-gcs-256m', 'load-file-256m'] as const;
export const LOAD_UPLOAD_SCENARIOS = ['load-s3-256m', 'load-gcs-256m', 'load-file-256m'] as const;

/** The fields of `etl --json load`'s result the bench reads. */
interface LoadJson {
  uploaded: number;
  skipped: number;
  bytes_uploaded: number;
  files: Array<{ action: string; reason: string; method?: string; parts?: number }>;
}

export interface S3Parts {
  /** `files[].parts` of etl's --json result. */
  reported: number;
  /** UploadPart requests s3rver received for one upload (retries would show here). */
  seen: number;
  /** The most UploadPart requests s3rver was receiving at one time. */
  maxInFlight: number;
}

export interface LoadBench {
  results: Result[];
  skipped: Array<{ scenario: string; reason: string }>;
  /** Per S3 upload run. */
  s3Parts: S3Parts[];
}

/** Counts UploadPart requests (PUT ...?partNumber=N) on s3rver's server, and how many were open at once. */
function watchUploadParts(server: Server) {
  let inFlight = 0;
  let seen = 0;
  let maxInFlight = 0;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'PUT' || !/[?&]partNumber=/.test(request.url ?? '')) return;
    seen++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    response.once('close', () => inFlight--);
  });
  return {
    take(): { seen: number; maxInFlight: number } {
      const counts = { seen, maxInFlight };
      seen = 0;
      maxInFlight = 0;
      return counts;
    },
  };
}

const range = (values: readonly number[]): string => {
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return low === high ? String(low) : `${low}-${high}`;
};

const seenByS3rver = (parts: readonly S3Parts[]): string =>
  `s3rver saw ${range(parts.map((p) => p.seen))} UploadPart requests per upload, up to ${range(parts.map((p) => p.maxInFlight))} at once`;

/** What the S3 runs showed about parts, for the targets. */
export function describeS3Parts(parts: readonly S3Parts[]): string {
  return `${range(parts.map((p) => p.reported))} parts (etl --json); ${seenByS3rver(parts)}`;
}

export async function benchLoad(options: { measurer: Measurer; file: string; work: string; runs: number; wanted: (id: string) => boolean; log: (line: string) => void }): Promise<LoadBench> {
  const { measurer, file, work, wanted, log } = options;
  const size = (await stat(file)).size;
  const megabytes = size / 1e6;
  const uploadRuns = Math.min(options.runs, 3);
  const bench: LoadBench = { results: [], skipped: [], s3Parts: [] };
  const report = (result: Result): void => {
    bench.results.push(result);
    log(`    ${result.detail}`);
  };

  /** One `etl --json load`, checked: the file uploaded whole, or skipped with 0 bytes sent. */
  const load = async (cli: string, bucket: string, flags: string[], env: Record<string, string>, expected: 'uploaded' | 'skipped'): Promise<{ run: Run; json: LoadJson }> => {
    const run = await runProcess(process.execPath, [cli, '--json', 'load', file, '--bucket', bucket, ...flags], env);
    const json = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as LoadJson;
    const ok = expected === 'uploaded' ? json.uploaded === 1 && json.bytes_uploaded === size : json.skipped === 1 && json.bytes_uploaded === 0;
    if (!ok) throw new Error(`etl load ${path.basename(file)} --bucket ${bucket}: expected ${expected}, got ${run.stdout.trim()}`);
    return { run, json };
  };

  /** `uploadRuns` uploads, each to a fresh prefix; the detail says how etl uploaded (method, parts). */
  const uploads = async (id: string, where: string, bucketOf: (run: number) => string, flags: string[], env: Record<string, string>, after?: (run: number, json: LoadJson, cli: string) => unknown) => {
    const methods = new Set<string>();
    let runNumber = 0;
    const result = await measurer.cli(id, '', { runs: uploadRuns, megabytes }, async (cli) => {
      const n = ++runNumber;
      const { run, json } = await load(cli, bucketOf(n), flags, env, 'uploaded');
      const uploaded = json.files[0]!;
      methods.add(`${uploaded.method}${(uploaded.parts ?? 1) > 1 ? ` in ${uploaded.parts} parts` : ''}`);
      await after?.(n, json, cli);
      return run;
    });
    result.detail = `etl load, 256 MiB incompressible file -> ${where}: ${[...methods].join(' / ')} (etl --json)`;
    return result;
  };

  if (wanted('load-s3-256m') || wanted('load-rerun-s3-256m')) {
    const server = await startS3Server(['bench']);
    const parts = watchUploadParts(server.http);
    const flags = ['--endpoint', server.url];
    // No instance-metadata probing: that would be traffic off the loopback.
    const env = { ...S3RVER_CREDENTIALS, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };
    // Each build re-runs onto its own last upload: what it skips on is what it wrote.
    const lastBucket = new Map<string, string>();
    try {
      if (wanted('load-s3-256m')) {
        parts.take();
        const result = await uploads('load-s3-256m', 's3rver', (n) => `s3://bench/run-${n}/`, flags, env, (n, json, cli) => {
          lastBucket.set(cli, `s3://bench/run-${n}/`);
          bench.s3Parts.push({ reported: json.files[0]!.parts ?? 1, ...parts.take() });
        });
        result.detail += `; ${seenByS3rver(bench.s3Parts)}`;
        report(result);
      }
      if (wanted('load-rerun-s3-256m')) {
        const rerun = async (cli: string): Promise<Run> => {
          let bucket = lastBucket.get(cli);
          if (!bucket) await load(cli, (bucket = `s3://bench/rerun-${lastBucket.size}/`), flags, env, 'uploaded');
          lastBucket.set(cli, bucket);
          return (await load(cli, bucket, flags, env, 'skipped')).run;
        };
        // The warm-up uploads first where that build has not uploaded yet.
        report(await measurer.cli('load-rerun-s3-256m', 'the same again to the same key: skipped (same sha256), 0 bytes sent; hashing the file + one HEAD', { runs: options.runs, warmUp: true, megabytes }, rerun));
      }
    } finally {
      await server.stop();
    }
  }

  if (wanted('load-gcs-256m')) {
    if (!gcsEmulatorInstalled()) {
      bench.skipped.push({ scenario: 'load-gcs-256m', reason: 'GCS emulator not installed in .ci/cache/gcs-emulator: `npm run install-gcs-emulator`' });
    } else {
      const emulator = await startGcsEmulator();
      try {
        // No metadata-server probing: that would be traffic off the loopback.
        report(await uploads('load-gcs-256m', 'the GCS emulator', (n) => `gs://bench/run-${n}/`, ['--endpoint', emulator.url], { METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'etl-bench' }));
      } finally {
        await emulator.stop();
      }
    }
  }

  if (wanted('load-file-256m')) {
    const lake = path.join(work, 'lake');
    const prefix = (n: number) => path.join(lake, `run-${n}`);
    report(await uploads('load-file-256m', 'file:// on the same disk', (n) => `${pathToFileURL(prefix(n)).href}/`, [], {}, (n) => rm(prefix(n), { recursive: true, force: true })));
  }
  return bench;
}
