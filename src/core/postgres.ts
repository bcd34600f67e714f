import type { Client } from 'pg';
import { ConfigError, LoadError, SourceError, errorMessage, type EtlError } from './errors.js';
import { PASSWORD_SOURCES, postgresPassword } from './postgres-password.js';

/**
 * What the Postgres source and sink share: the URL (checked before anything runs), the connection (libpq's
 * environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE; the password from postgres-password.ts), table
 * names, and turning the server's errors into etl's family.
 */

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * Refuses a URL that holds a password, before anything is printed or recorded: the message names the flag,
 * never the URL (which would carry the password into a log line).
 */
export function checkPostgresUrl(url: string, flag: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${flag}: not a postgres:// URL`, { hint: 'write it as postgres://user@host:5432/database' });
  }
  if (parsed.password !== '' || /^[^/]*\/\/[^/@]*:[^/@]*@/.test(url)) {
    throw new ConfigError(`${flag}: the URL holds a password; etl never takes one on the command line`, {
      hint: `remove it from the URL and set ${PASSWORD_SOURCES}`,
    });
  }
}

/** The URL as shown and recorded: scheme, user, host, port and database only. */
export function displayUrl(url: string): string {
  const parsed = new URL(url);
  return `postgres://${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}`;
}

export type PostgresSide = 'source' | 'load';

/** A SourceError (exit 3) for the source, a LoadError (exit 5) for the destination. */
export function postgresFailure(side: PostgresSide, message: string, details: { hint?: string; cause?: unknown; retriable?: boolean } = {}): EtlError {
  return side === 'source' ? new SourceError(message, details) : new LoadError(message, details);
}

/** Opens a connection with UTC times and ISO dates, so text values read and written mean one thing. */
export async function connectPostgres(url: string, side: PostgresSide, applicationName: string): Promise<Client> {
  const { default: pg } = await import('pg');
  // eslint-disable-next-line prefer-const
  let client: Client;
  let passwordFound = true;
  client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: 30_000,
    keepAlive: true,
    password: () => {
      const password = postgresPassword({ host: client.host, port: client.port, database: client.database ?? client.user ?? '', user: client.user ?? '' });
      passwordFound = password !== undefined;
      return password ?? '';
    },
  });
  // An error after connecting (the server went away between statements) fails the statement in flight; nothing else listens.
  client.on('error', () => undefined);
  const where = `${client.host}:${client.port}/${client.database ?? client.user}`;
  try {
    await client.connect();
    await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3");
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw describeConnectError(error, side, where, client.user ?? '', passwordFound);
  }
}

function describeConnectError(error: unknown, side: PostgresSide, where: string, user: string, passwordFound: boolean): EtlError {
  const code = (error as { code?: string }).code;
  const message = errorMessage(error);
  if (code === '28P01' || code === '28000' || /password/i.test(message)) {
    const why = passwordFound ? `password authentication failed for user ${user}` : `the server asks user ${user} for a password and none was found`;
    return postgresFailure(side, `postgres ${where}: ${why}`, { hint: `set ${PASSWORD_SOURCES} (never in the URL or a flag)`, cause: error });
  }
  if (code === '3D000') return postgresFailure(side, `postgres ${where}: ${message}`, { hint: 'check the database name in the URL (or PGDATABASE)', cause: error });
  const network = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', '57P03'].includes(code ?? '') || /timeout|terminated/i.test(message);
  return postgresFailure(side, `postgres ${where}: cannot connect (${message})`, { hint: 'is the server up and reachable? check the host and port in the URL (or PGHOST, PGPORT)', cause: error, retriable: network });
}

/** A connection that broke mid-statement may pass next time; a statement the server refused will not. */
export function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08006', '08003', '08000'].includes(code) || /Connection terminated|connection.*(ended|closed)|not queryable/i.test(errorMessage(error));
}

export interface TableName {
  schema: string;
  table: string;
}

/** `schema.table` or `table` (schema public); letters, digits and `_`, as unquoted Postgres names are. */
export function parseTableName(value: string, flag = '--table'): TableName {
  const match = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/.exec(value);
  if (!match || value.length > 127) {
    throw new ConfigError(`${flag} ${JSON.stringify(value)} is not a table name`, { hint: 'write schema.table (or table, for the public schema): letters, digits and _' });
  }
  return { schema: (match[1] ?? 'public').toLowerCase(), table: match[2]!.toLowerCase() };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(name: TableName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A server error in one line, with where the server says it happened (`COPY t, line 3, column deaths: "x"`). */
export function describeServerError(error: unknown): string {
  const { where, detail } = error as { where?: string; detail?: string };
  return [errorMessage(error), detail, where?.split('\n')[0]].filter(Boolean).join('; ');
}
