import { LOG_DIR, commitPath, decodeDeltaPath } from './actions.js';
import type { LogStore } from './log-store.js';
import { listLog, parseCommit, readSnapshot } from './replay.js';
import { parseSchemaString, type DeltaField } from './schema.js';

export interface TableDescription {
  location: string;
  version: number;
  latest: number;
  partitionColumns: string[];
  schema: DeltaField[];
  protocol: { minReaderVersion: number; minWriterVersion: number };
  files: Array<{ path: string; partitionValues: Record<string, string | null>; size: number; rows: number | undefined }>;
  rows: number | undefined;
  history: Array<{ version: number; timestamp: string | undefined; operation: string | undefined; added: number; removed: number; engine: string | undefined }>;
  checkpoint: number | undefined;
}

/** What `etl inspect <table>` shows: the version's schema and files, and the history of every commit the log holds. */
export async function describeTable(store: LogStore, version?: number): Promise<TableDescription | undefined> {
  const snapshot = await readSnapshot(store, { version });
  if (!snapshot) return undefined;
  const { commits } = await listLog(store);
  const history: TableDescription['history'] = [];
  for (const at of commits) {
    const bytes = await store.read(commitPath(at));
    if (!bytes) continue;
    const actions = parseCommit(bytes.toString('utf8'), `${store.location}${commitPath(at)}`);
    const info = actions.find((action) => 'commitInfo' in action);
    const commitInfo = info && 'commitInfo' in info ? info.commitInfo : undefined;
    history.push({
      version: at,
      timestamp: commitInfo ? new Date(commitInfo.timestamp).toISOString() : undefined,
      operation: commitInfo?.operation,
      added: actions.filter((action) => 'add' in action).length,
      removed: actions.filter((action) => 'remove' in action).length,
      engine: typeof commitInfo?.engineInfo === 'string' ? commitInfo.engineInfo : undefined,
    });
  }
  const files = [...snapshot.files.values()].map((add) => {
    let rows: number | undefined;
    try {
      rows = add.stats ? (JSON.parse(add.stats) as { numRecords?: number }).numRecords : undefined;
    } catch {
      rows = undefined;
    }
    return { path: decodeDeltaPath(add.path), partitionValues: add.partitionValues, size: add.size, rows };
  }).sort((a, b) => a.path.localeCompare(b.path));
  const rows = files.every((file) => file.rows !== undefined) ? files.reduce((sum, file) => sum + file.rows!, 0) : undefined;
  return {
    location: store.location,
    version: snapshot.version,
    latest: Math.max(...commits, snapshot.version),
    partitionColumns: snapshot.metaData.partitionColumns,
    schema: parseSchemaString(snapshot.metaData.schemaString, `${store.location}${LOG_DIR}`),
    protocol: { minReaderVersion: snapshot.protocol.minReaderVersion, minWriterVersion: snapshot.protocol.minWriterVersion },
    files,
    rows,
    history,
    checkpoint: snapshot.checkpoint,
  };
}
