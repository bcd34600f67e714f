import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A throwaway PostgreSQL cluster: initdb and pg_ctl on a temp directory, listening on 127.0.0.1 at a free port
 * (and a Unix socket in the same directory), password authentication over TCP. As root, the server runs as the
 * `postgres` user (or `nobody`), which owns the directory. Used by the tests (once per run, test/helpers/
 * postgres-global-setup.ts) and by `npm run bench`.
 */
export interface RunningCluster {
  host: string;
  port: number;
  superuser: string;
  password: string;
  socketDir: string;
  binDir: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** The server's binaries: ETL_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian), else pg_config's. */
export function findPostgresBin(): string | undefined {
  const candidates: string[] = [];
  if (process.env.ETL_PG_BIN) candidates.push(process.env.ETL_PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    for (const version of readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(debian, version, 'bin'));
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim());
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}

/** Why no cluster can be started here, or undefined when one can. */
export function postgresUnavailable(): string | undefined {
  if (process.platform === 'win32') return 'PostgreSQL tests need a POSIX system (initdb, named pipes)';
  if (!findPostgresBin()) return 'PostgreSQL server binaries (initdb, pg_ctl) not found: `apt-get install postgresql`, or set ETL_PG_BIN';
  if (process.getuid?.() === 0 && !serverUser()) return 'running as root and neither a postgres nor a nobody user exists to run the server as';
  return undefined;
}

/** As root, the unprivileged user the server runs as. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startCluster(): Promise<RunningCluster> {
  const binDir = findPostgresBin();
  if (!binDir) throw new Error(postgresUnavailable());
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? serverUser() : undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'etl-pg-'));
  const dataDir = path.join(dir, 'data');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const passwordFile = path.join(dir, 'superuser-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(passwordFile, user.uid, user.gid);
  }
  const run = (command: string, args: string[]): void => {
    const [file, argv] = user ? ['runuser', ['-u', user.name, '--', path.join(binDir, command), ...args]] : [path.join(binDir, command), args];
    execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  };
  const port = await freePort();
  const stop = async (): Promise<void> => {
    try {
      run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Already stopped.
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '-N']);
    // Durability is not what these tests are about; speed is.
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
    run('pg_ctl', ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  } catch (error) {
    await stop();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not start PostgreSQL from ${binDir}: ${stderr || String(error)}`);
  }
  return { host: '127.0.0.1', port, superuser: SUPERUSER, password, socketDir: dir, binDir, stop };
}
