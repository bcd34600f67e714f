import { DataError } from '../core/errors.js';

/**
 * The actions of a Delta Lake commit, as PROTOCOL.md (delta-io/delta) defines them: each commit file
 * `_delta_log/<version, 20 digits>.json` holds one action per line. etl writes reader version 1 / writer
 * version 2 tables: no deletion vectors, no column mapping, no table features.
 */
export const READER_VERSION = 1;
export const WRITER_VERSION = 2;
export const LOG_DIR = '_delta_log';
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;
/** A checkpoint after every this many commits, as Spark's default delta.checkpointInterval. */
export const CHECKPOINT_INTERVAL = 10;

export interface ProtocolAction {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface MetaDataAction {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options: Record<string, string> };
  /** A StructType in Delta's JSON schema serialisation. */
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/** Per-file statistics, serialised as a JSON string in `add.stats`. */
export interface FileStats {
  numRecords: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, number>;
}

export interface AddAction {
  /** Relative to the table root, URL-encoded (RFC 2396) as the protocol requires. */
  path: string;
  /** Partition values as strings; null for the null partition. */
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
}

export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null>;
  size?: number;
}

/** An application's last committed version: a writer that sees its own (appId, version) knows the commit landed. */
export interface TxnAction {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export interface CommitInfoAction {
  timestamp: number;
  operation: string;
  operationParameters?: Record<string, unknown>;
  readVersion?: number;
  isBlindAppend?: boolean;
  engineInfo?: string;
  [key: string]: unknown;
}

export type Action =
  | { protocol: ProtocolAction }
  | { metaData: MetaDataAction }
  | { add: AddAction }
  | { remove: RemoveAction }
  | { txn: TxnAction }
  | { commitInfo: CommitInfoAction };

/** `_delta_log/00000000000000000007.json` */
export function commitPath(version: number): string {
  return `${LOG_DIR}/${String(version).padStart(20, '0')}.json`;
}

/** `_delta_log/00000000000000000010.checkpoint.parquet` (single-part checkpoint). */
export function checkpointPath(version: number): string {
  return `${LOG_DIR}/${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

/** The version a commit file's name stands for, or undefined for any other file of the log. */
export function commitVersionOf(fileName: string): number | undefined {
  const match = /^(\d{20})\.json$/.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/** One commit's bytes: one JSON object per line, newline-terminated. */
export function serializeCommit(actions: readonly Action[]): string {
  return actions.map((action) => JSON.stringify(action)).join('\n') + '\n';
}

/**
 * A data file path as it appears in the log: relative paths are URL-encoded, so a reader decodes them
 * before opening the file (`bar+%2521` in the log is the folder `bar+%21` on disk). The log is a record, not
 * an instruction: a path that is absolute, names a scheme, or climbs out with `..` is refused (etl reads files
 * of its log only inside the table, as it writes them).
 */
export function decodeDeltaPath(logPath: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(logPath);
  } catch {
    throw new DataError(`the Delta log names a file ${JSON.stringify(logPath)} whose path is not URL-encoded`, { hint: 'the table log is damaged' });
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(decoded) || decoded.startsWith('/') || decoded.startsWith('\\') || decoded.split(/[/\\]/).some((segment) => segment === '..' || segment === '')) {
    throw new DataError(`the Delta log names a file outside the table: ${JSON.stringify(logPath)}`, { hint: 'etl reads and writes tables whose files lie inside the table folder; this log was written by another tool or altered' });
  }
  return decoded;
}

/** The inverse: each path segment percent-encoded as Spark writes them (a space as %20, `%` as %25; `=`, `+` kept). */
export function encodeDeltaPath(filePath: string): string {
  return filePath
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%3D/g, '=').replace(/%2B/g, '+'))
    .join('/');
}
