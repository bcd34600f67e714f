import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { round, type Measurer, type Result, type Run } from './measure.js';

/**
 * `etl serve` against a 1M-row dataset: requests per second for a point lookup (`?id=`) and a 100-row filtered
 * page (`?grp=&order=-day&limit=100`), each with DuckDB answering the same question in-process as the peer (the
 * floor: no HTTP, no JSON, no keyset tiebreak). And the server's peak RSS while it streams a 10M-row dataset as CSV.
 * The load generator runs in this process, sharing the machine's cores with the server.
 */
export const SERVE_SCENARIOS = ['serve-point-1m', 'serve-page-1m', 'serve-csv-10m'] as const;

const CONCURRENCY = 4;
const POINT_REQUESTS = 3000;
const PAGE_REQUESTS = 600;
const GROUPS = 10_000;

export interface ServeBench {
  results: Result[];
  /** Peak RSS of the server process streaming 10M rows as CSV, and the bytes it sent. */
  csv?: { peakRssMb: number; rows: number; megabytes: number; seconds: number };
}

async function writeDataset(file: string, rows: number): Promise<void> {
  if (existsSync(file)) return;
  await mkdir(path.dirname(file), { recursive: true });
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const temp = `${file}.tmp`;
  await connection.run(`COPY (SELECT i::BIGINT AS id, (hash(i) % ${GROUPS})::INTEGER AS grp, DATE '2000-01-01' + (i % 9000)::INTEGER AS day,
    'name-' || (i % 1000) AS name, (i % 997) * 1.5 AS value FROM range(${rows}) t(i)) TO '${temp}' (FORMAT parquet, COMPRESSION zstd)`);
  connection.closeSync();
  instance.closeSync();
  await rename(temp, file);
}

async function startServe(etl: string, dataDir: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [etl, 'serve', '--port', '0', '--data-dir', dataDir, '--max-concurrent', String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(stdout);
      if (found) resolve(found[1]!);
    });
    child.on('exit', (code) => reject(new Error(`etl serve exited ${code}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs `count` calls of `one(i)` with `CONCURRENCY` in flight; returns calls per second. */
async function rate(count: number, one: (i: number) => Promise<void>): Promise<{ perS: number; seconds: number }> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await one(next++);
  }));
  const seconds = (performance.now() - started) / 1000;
  return { perS: count / seconds, seconds };
}

function result(scenario: string, detail: string, count: number, measured: { perS: number; seconds: number }): Result {
  return { scenario, detail, runs: 1, medianWallS: round(measured.seconds, 3), minWallS: round(measured.seconds, 3), rows: count, rowsPerS: Math.round(measured.perS), mbPerS: null, mbOf: null, medianPeakRssMb: null, note: 'rows/s column = requests (or queries) per second' };
}

const pick = (i: number, modulo: number): number => (i * 7919 + 17) % modulo;

/** `count` requests as one run of the scenario: its wall time; the server's peak RSS is not this run's alone. */
async function timed(count: number, one: (i: number) => Promise<void>): Promise<Run> {
  const { seconds } = await rate(count, one);
  return { wallMs: seconds * 1000, peakRssMb: null, stdout: '', stderr: '' };
}

export async function benchServe(options: { measurer: Measurer; inputsDir: string; wanted: (id: string) => boolean; log: (line: string) => void }): Promise<ServeBench> {
  const { measurer, log, wanted } = options;
  const bench: ServeBench = { results: [] };
  const dataDir = path.join(options.inputsDir, 'serve');
  const million = path.join(dataDir, 'processed', 'bench', 'rows-1m.parquet');
  const tenMillion = path.join(dataDir, 'processed', 'bench', 'rows-10m.parquet');
  log('  serve: generating 1M and 10M-row datasets (once)');
  await writeDataset(million, 1_000_000);
  if (wanted('serve-csv-10m')) await writeDataset(tenMillion, 10_000_000);

  // One server per build (against --baseline), started by its first run.
  const servers = new Map<string, ReturnType<typeof startServe>>();
  const serverOf = (cli: string): ReturnType<typeof startServe> => {
    if (!servers.has(cli)) servers.set(cli, startServe(cli, dataDir));
    return servers.get(cli)!;
  };
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const get = async (cli: string, route: string): Promise<string> => {
    const response = await request((await serverOf(cli)).url + route, { dispatcher: agent });
    const body = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${route}: HTTP ${response.statusCode} ${body.slice(0, 200)}`);
    return body;
  };
  // The peer: the plain query a user would write for the same answer, in-process, one DuckDB connection per client.
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:', { threads: '2' });
  const connections = await Promise.all(Array.from({ length: CONCURRENCY }, () => instance.connect()));
  let turn = 0;
  const peer = async (sql: string, params: string[]): Promise<void> => {
    const connection = connections[turn++ % CONCURRENCY]!;
    (await connection.runAndReadAll(sql, params)).getRowObjectsJson();
  };
  try {
    const note = 'rows/s column = requests (or queries) per second';
    if (wanted('serve-point-1m')) {
      // One run = POINT_REQUESTS requests; the warm-up is one such run too.
      const served = await measurer.cli('serve-point-1m', `GET rows?id=<n> on 1M rows, ${CONCURRENCY} clients`, { runs: 1, warmUp: true, rows: POINT_REQUESTS, note }, (cli) =>
        timed(POINT_REQUESTS, (i) => get(cli, `/v1/datasets/bench/rows-1m/rows?id=${pick(i, 1_000_000)}`).then(() => undefined)),
      );
      bench.results.push(served);
      if (measurer.runPeer('duckdb-point-1m')) {
        const sql = 'SELECT * FROM read_parquet($1) WHERE id = CAST($2 AS BIGINT) LIMIT 1001';
        const floor = await rate(POINT_REQUESTS, (i) => peer(sql, [million, String(pick(i, 1_000_000))]));
        bench.results.push(result('duckdb-point-1m', 'SELECT * … WHERE id = $2 LIMIT 1001, in-process (DuckDB node-api)', POINT_REQUESTS, floor));
        log(`  serve-point-1m: ${served.rowsPerS} req/s; DuckDB in-process ${floor.perS.toFixed(0)} queries/s`);
      }
    }
    if (wanted('serve-page-1m')) {
      const served = await measurer.cli('serve-page-1m', `GET rows?grp=<g>&order=-day&limit=100 on 1M rows, ${CONCURRENCY} clients`, { runs: 1, warmUp: true, rows: PAGE_REQUESTS, note }, (cli) =>
        timed(PAGE_REQUESTS, (i) => get(cli, `/v1/datasets/bench/rows-1m/rows?grp=${pick(i, GROUPS)}&order=-day&limit=100`).then(() => undefined)),
      );
      bench.results.push(served);
      if (measurer.runPeer('duckdb-page-1m')) {
        const sql = 'SELECT * FROM read_parquet($1) WHERE grp = CAST($2 AS INTEGER) ORDER BY day DESC LIMIT 101';
        const floor = await rate(PAGE_REQUESTS, (i) => peer(sql, [million, String(pick(i, GROUPS))]));
        bench.results.push(result('duckdb-page-1m', 'SELECT * … WHERE grp = $2 ORDER BY day DESC LIMIT 101, in-process', PAGE_REQUESTS, floor));
        log(`  serve-page-1m: ${served.rowsPerS} req/s; DuckDB in-process ${floor.perS.toFixed(0)} queries/s`);
      }
    }
    if (wanted('serve-csv-10m')) {
      let sent = { rows: 0, megabytes: 0 };
      // A server of its own per run: its peak RSS (VmHWM) is then this stream's.
      const stream = async (cli: string): Promise<Run> => {
        const server = await startServe(cli, dataDir);
        try {
          const started = performance.now();
          const response = await request(`${server.url}/v1/datasets/bench/rows-10m/rows?format=csv`, { dispatcher: agent });
          if (response.statusCode !== 200) throw new Error(`CSV of 10M rows: HTTP ${response.statusCode} ${(await response.body.text()).slice(0, 200)}`);
          let bytes = 0;
          let lines = 0;
          for await (const chunk of response.body) {
            bytes += (chunk as Buffer).length;
            for (const byte of chunk as Buffer) if (byte === 10) lines++;
          }
          const wallMs = performance.now() - started;
          const status = await readFile(`/proc/${server.pid}/status`, 'utf8').catch(() => '');
          const peakKib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
          sent = { rows: lines - 1, megabytes: bytes / 1e6 };
          return { wallMs, peakRssMb: Number.isNaN(peakKib) ? null : peakKib / 1024, stdout: '', stderr: '' };
        } finally {
          await server.stop();
        }
      };
      const csv = await measurer.cli('serve-csv-10m', 'GET rows?format=csv of 10M rows, the server process', { runs: 1 }, stream);
      csv.rows = sent.rows;
      csv.rowsPerS = Math.round(sent.rows / csv.medianWallS);
      csv.mbPerS = round(sent.megabytes / csv.medianWallS, 2);
      csv.mbOf = 'output';
      bench.results.push(csv);
      if (csv.medianPeakRssMb !== null) bench.csv = { peakRssMb: csv.medianPeakRssMb, rows: sent.rows, megabytes: sent.megabytes, seconds: csv.medianWallS };
      log(`  serve-csv-10m: ${sent.rows.toLocaleString('en')} rows, ${sent.megabytes.toFixed(0)} MB in ${csv.medianWallS.toFixed(1)} s; server peak RSS ${csv.medianPeakRssMb?.toFixed(0) ?? 'n/a'} MB`);
    }
  } finally {
    for (const connection of connections) connection.closeSync();
    instance.closeSync();
    await agent.close();
    for (const server of await Promise.allSettled(servers.values())) if (server.status === 'fulfilled') await server.value.stop();
  }
  return bench;
}
