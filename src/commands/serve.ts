import { stat } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import type { CommandContext } from './context.js';
import { dataDirOption, parseCount, parsePositiveInt } from './options.js';

interface ServeFlags {
  dataDir: string;
  port: number;
  host: string;
  tokenEnv?: string;
  auth: boolean;
  cors?: string;
  queryTimeout: number;
  maxConcurrent: number;
  maxRows: number;
  maxIn: number;
}

export function serveCommand(context: () => Promise<CommandContext>): Command {
  return new Command('serve')
    .description('serve the processed layer read-only over HTTP: a JSON/CSV/NDJSON/parquet API and a page to browse it')
    .addOption(dataDirOption())
    .addOption(new Option('--port <n>', 'TCP port (0: any free one; the URL is printed)').argParser(parsePort).default(8080))
    .addOption(new Option('--host <address>', 'address to listen on; anything but loopback needs --token-env or --no-auth').default('127.0.0.1'))
    .addOption(new Option('--token-env <VAR>', 'require Authorization: Bearer <the value of this environment variable> on every API call'))
    .addOption(new Option('--no-auth', 'allow a non-loopback --host without a token (anyone who reaches the port reads every dataset)'))
    .addOption(new Option('--cors <origin>', 'let pages from this one origin call the API from a browser (default: no CORS)'))
    .addOption(new Option('--query-timeout <seconds>', 'stop a query still running after this long (streams: until their first bytes)').argParser(parseTimeout).default(10))
    .addOption(new Option('--max-concurrent <n>', 'queries at once; more wait, and past 16 waiting are refused (503)').argParser(parsePositiveInt).default(4))
    .addOption(new Option('--max-rows <n>', 'the most rows one JSON page holds (limit=); CSV, NDJSON and parquet stream every row').argParser(parsePositiveInt).default(10_000))
    .addOption(new Option('--max-in <n>', 'the most values one col__in= list holds').argParser(parsePositiveInt).default(500))
    .addHelpText('after', `
Serves every dataset in <data-dir>/processed (plain .parquet files, partitioned folders, and Delta tables
at their latest version), read with DuckDB inside etl. Nothing is written; nothing but GET (and HEAD) is answered.

Routes:
  GET /                                      a page listing datasets: columns, last run, rows, a chart
  GET /v1/datasets                           columns (type, description), rows, files, last run, freshness
  GET /v1/datasets/<source>/<dataset>/rows   filtered rows, paged by cursor (JSON) or whole (CSV, NDJSON, parquet)
  GET /openapi.json                          OpenAPI 3.1 from the datasets' schemas
  GET /healthz                               liveness, no token needed
  GET /year/<year>/geo_code/<code>           {"year","geo_code","data":{"<date>":deaths}} from ons/monthly-deaths

Rows: filter any column with col=v, col__ne, __gt, __gte, __lt, __lte, __in=a,b, __null=true|false;
columns=a,b; order=col,-col; limit (JSON default 1000, at most --max-rows); cursor=<"next" of the last page>;
format=json|ndjson|csv|parquet (or the Accept header). Dates are YYYY-MM-DD; 64-bit integers are JSON numbers
when exact in JavaScript (|n| <= 2^53-1), else strings. An unknown column, operator or a value that does not
fit its column is a 400 naming it.

Safe by default: listens on 127.0.0.1; values reach DuckDB only as bound parameters; a query past
--query-timeout is stopped (503); a run replacing a file while a query reads it gives the old rows or the new.

Examples:
  $ etl serve                                                 http://127.0.0.1:8080
  $ ETL_SERVE_TOKEN=$(openssl rand -hex 24) etl serve --host 0.0.0.0 --token-env ETL_SERVE_TOKEN
  $ curl 'localhost:8080/v1/datasets/ons/monthly-deaths/rows?geo_level=country&period__gte=2019-01-01&order=-period&limit=100'
  $ curl 'localhost:8080/v1/datasets/ons/monthly-deaths/rows?geo_code=K04000001&format=csv' > ew.csv
  $ curl localhost:8080/year/2019/geo_code/E06000047`)
    .action(async (flags: ServeFlags) => {
      const ctx = await context();
      const token = tokenOf(flags);
      if (!isLoopback(flags.host) && token === undefined) {
        if (flags.auth) {
          throw new ConfigError(`--host ${flags.host} is reachable from other machines, and no token is set`, { hint: 'add --token-env <VAR> (a variable holding a long random token), or --no-auth to serve without one' });
        }
      }
      await checkDataDir(flags.dataDir);
      const { startServer } = await import('../serve/http-server.js'); // Loaded when the command runs: `etl --help` stays fast
      const server = await startServer({
        dataDir: flags.dataDir,
        host: flags.host,
        port: flags.port,
        token,
        corsOrigin: flags.cors,
        log: ctx.log,
        queryTimeoutMs: flags.queryTimeout * 1000,
        maxConcurrent: flags.maxConcurrent,
        maxWaiting: 16,
        defaultLimit: Math.min(1000, flags.maxRows),
        maxJsonRows: flags.maxRows,
        maxInValues: flags.maxIn,
      }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') throw new ConfigError(`port ${flags.port} on ${flags.host} is in use`, { hint: 'choose another with --port, or --port 0 for any free one' });
        if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') throw new ConfigError(`--host ${flags.host} is not an address of this machine`, { hint: 'use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)' });
        throw error;
      });
      if (!isLoopback(flags.host) && token === undefined) ctx.log.warn(`--no-auth: anyone who can reach ${server.url} can read every dataset in ${flags.dataDir}/processed`);
      ctx.printResult(`etl serve: listening on ${server.url} (data dir ${flags.dataDir}; Ctrl-C stops)`, { command: 'serve', url: server.url, data_dir: flags.dataDir });
      // Serves until the process is stopped (SIGINT/SIGTERM end it in cli.ts).
      await new Promise<never>(() => {});
    });
}

/** A data dir that is not there is a typo or a pipeline not run yet: said at start, not as an empty list later. */
async function checkDataDir(dataDir: string): Promise<void> {
  const info = await stat(dataDir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new ConfigError(`data dir ${dataDir} ${info ? 'is not a folder' : 'does not exist'}`, { hint: 'pass --data-dir with the folder etl run writes to (default ./data), or run a pipeline first' });
  }
}

function tokenOf(flags: ServeFlags): string | undefined {
  if (flags.tokenEnv === undefined) return undefined;
  const token = process.env[flags.tokenEnv];
  if (!token) throw new ConfigError(`--token-env ${flags.tokenEnv}: the variable is not set or empty (looked in: environment, .env)`, { hint: `set it to a long random value, e.g. export ${flags.tokenEnv}=$(openssl rand -hex 24)` });
  if (token.length < 16) throw new ConfigError(`--token-env ${flags.tokenEnv}: the token is ${token.length} characters; at least 16 are needed`, { hint: 'use a long random value, e.g. $(openssl rand -hex 24)' });
  return token;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function parsePort(value: string): number {
  const port = parseCount(value);
  if (port > 65535) throw new InvalidArgumentError('expected a port number, 0 to 65535');
  return port;
}

/** Seconds, fractions allowed (0.5), from 0.001 up to an hour. */
function parseTimeout(value: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0.001 && seconds <= 3600)) throw new InvalidArgumentError('expected seconds, from 0.001 to 3600, e.g. 10 or 0.5');
  return seconds;
}
