import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerSecret } from './redact.js';

/**
 * The one place a Postgres password is read, as libpq reads it: PGPASSWORD, else the first matching line of
 * PGPASSFILE or ~/.pgpass (`host:port:database:user:password`, `*` matches anything, `\:` and `\\` escape).
 * Never a flag, never a URL. The value is registered as a secret, so it is masked wherever it would be printed.
 */
export interface PasswordLookup {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** Where a password may come from, for hints. */
export const PASSWORD_SOURCES = 'PGPASSWORD, or a line in ~/.pgpass (PGPASSFILE) with mode 0600';

export function postgresPassword(lookup: PasswordLookup, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const password = env.PGPASSWORD || passwordFromFile(lookup, env);
  if (password) registerSecret(password);
  return password;
}

function passwordFromFile(lookup: PasswordLookup, env: NodeJS.ProcessEnv): string | undefined {
  const file = env.PGPASSFILE || path.join(env.HOME || os.homedir(), '.pgpass');
  let text: string;
  try {
    // libpq ignores a password file others can read; so does etl.
    if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) return undefined;
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // A Unix socket counts as "localhost", as in libpq.
  const host = lookup.host.startsWith('/') ? 'localhost' : lookup.host;
  const wanted = [host, String(lookup.port), lookup.database, lookup.user];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields.slice(4).join(':');
  }
  return undefined;
}

function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\' && i + 1 < line.length) field += line[++i]!;
    else if (char === ':') {
      fields.push(field);
      field = '';
    } else field += char;
  }
  return [...fields, field];
}
