import { ConfigError, DataError } from '../../core/errors.js';

/**
 * What one workbook may cost before reading it stops with a data error. A crafted file of a few KB can
 * inflate to gigabytes or name cell XFD1048576; these bounds keep every such file to one clean error in
 * seconds and a few hundred MB. The defaults sit well above any real ONS edition (the largest part of
 * one is ~5 MB); each is overridable by an environment variable for genuinely larger workbooks.
 */
export interface WorkbookLimits {
  /** Uncompressed bytes of one .xlsx part (a sheet, the shared strings) or of one whole .xls file. */
  partBytes: number;
  /** Characters of one cell value, text run or XML tag (Excel itself stops at 32,767 per cell). */
  cellChars: number;
  /** Columns a row may span: a cell further right is refused before the row is padded out to it. */
  columns: number;
  /** Entries of the shared-string table. */
  sharedStrings: number;
  /** Characters of all shared strings together (they are held in memory while the workbook is read). */
  sharedStringChars: number;
}

/** Excel's own grid: columns A..XFD, rows 1..1,048,576. Anything beyond is not a real cell. */
export const EXCEL_MAX_COLUMNS = 16_384;
export const EXCEL_MAX_ROWS = 1_048_576;

const MIB = 1024 * 1024;

export const LIMIT_SETTINGS: ReadonlyArray<{ key: keyof WorkbookLimits; env: string; fallback: number; what: string }> = [
  { key: 'partBytes', env: 'ETL_WORKBOOK_MAX_PART_BYTES', fallback: 256 * MIB, what: 'uncompressed bytes of one .xlsx part (sheet, shared strings) or one .xls file' },
  { key: 'cellChars', env: 'ETL_WORKBOOK_MAX_CELL_CHARS', fallback: 64 * 1024, what: 'characters in one cell, text run or XML tag' },
  { key: 'columns', env: 'ETL_WORKBOOK_MAX_COLUMNS', fallback: 4096, what: `columns one row may span (at most ${EXCEL_MAX_COLUMNS}, Excel's XFD)` },
  { key: 'sharedStrings', env: 'ETL_WORKBOOK_MAX_SHARED_STRINGS', fallback: 2_000_000, what: 'entries in the shared-string table' },
  { key: 'sharedStringChars', env: 'ETL_WORKBOOK_MAX_SHARED_STRING_CHARS', fallback: 64 * MIB, what: 'characters of all shared strings together' },
];

/** The limits in force: the defaults, each overridden by its environment variable (a whole number, or with a K/M/G suffix). */
export function workbookLimits(env: NodeJS.ProcessEnv = process.env): WorkbookLimits {
  const limits = {} as WorkbookLimits;
  for (const { key, env: name, fallback } of LIMIT_SETTINGS) {
    const raw = env[name];
    limits[key] = raw === undefined || raw.trim() === '' ? fallback : parseLimit(raw, name);
  }
  limits.columns = Math.min(limits.columns, EXCEL_MAX_COLUMNS);
  return limits;
}

function parseLimit(raw: string, name: string): number {
  const match = /^\s*(\d+)\s*([KMG]i?B?)?\s*$/i.exec(raw);
  const value = match ? Number(match[1]) * ({ K: 1024, M: MIB, G: 1024 * MIB }[(match[2] ?? '').charAt(0).toUpperCase()] ?? 1) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a limit`, { hint: 'give a whole number of 1 or more, optionally with K, M or G (e.g. 256M)' });
  return value;
}

/** The hint on every limit error: how to raise it, for a workbook that is genuine. */
export function raiseHint(env: string): string {
  return `if the workbook is genuine, raise the limit with ${env} (see etl transform --help)`;
}

export function envOf(key: keyof WorkbookLimits): string {
  return LIMIT_SETTINGS.find((setting) => setting.key === key)!.env;
}

/**
 * A workbook went past a limit. The reader says where inside the workbook (`cell XFD7: ...`); workbook.ts
 * puts the file and sheet in front. A data error (exit 4): the file, not etl, is at fault.
 */
export class WorkbookLimitError extends DataError {
  override readonly name = 'DataError';

  constructor(message: string, limit: keyof WorkbookLimits | 'excel') {
    super(message, { hint: limit === 'excel' ? 'the file is corrupt or crafted: no spreadsheet program writes such a cell' : raiseHint(envOf(limit)) });
  }
}

/** Relationships, number formats and cell styles a workbook may list (Excel allows 64,000 styles). */
export const MAX_PART_ENTRIES = 1_048_576;
/** Sheets a workbook may list: each matching one is opened and searched, so a million would take hours. */
export const MAX_SHEETS = 10_000;

/** For `etl transform --help`: each limit, its variable and its default. */
export function limitsHelp(): string {
  const lines = LIMIT_SETTINGS.map(({ env, fallback, what }) => `  ${env.padEnd(37)} ${what} (default ${formatLimit(fallback)})`);
  return `\nLimits on one workbook (a crafted or damaged file stops with a data error instead of exhausting memory or time;\nraise one for a genuine workbook that needs more, e.g. ETL_WORKBOOK_MAX_COLUMNS=16384):\n${lines.join('\n')}`;
}

function formatLimit(value: number): string {
  if (value % MIB === 0) return `${value / MIB}M`;
  return value % 1024 === 0 ? `${value / 1024}K` : String(value);
}
