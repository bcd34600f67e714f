import { DataError } from '../../core/errors.js';

/**
 * Hive-style partition folders, `<column>=<value>`, named so that distinct values always give distinct
 * folders and every value reads back exactly (DuckDB, Spark and Hive decode `%XX` in folder names):
 *
 * - null is `__HIVE_DEFAULT_PARTITION__`, the name every Hive reader takes for null;
 * - any other value keeps `A-Z a-z 0-9 . _ -` as they are and writes every other byte of its UTF-8 as `%XX`
 *   (upper-case hex): `/`, `\`, `%`, `=`, a space, a quote, NUL, control characters, non-ASCII letters;
 * - the string `__HIVE_DEFAULT_PARTITION__` itself starts `%5F`, so it is not read back as null;
 * - the empty string is `<column>=` (read back as the empty string, not null).
 *
 * The column name is escaped the same way. A folder name longer than a file name may be (255 bytes) is
 * refused, before anything is written. On a case-insensitive file system (macOS, Windows) values that
 * differ only in case share a folder; etl's own targets (Linux, object stores) are case-sensitive.
 */
export const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';
/** NAME_MAX on Linux and macOS: the longest file or folder name, in bytes. */
export const MAX_NAME_BYTES = 255;

const KEPT = /^[A-Za-z0-9._-]$/;

/** One value as it appears after `=` in a folder name. */
export function escapePartitionValue(value: string | null): string {
  if (value === null) return HIVE_NULL;
  let escaped = '';
  for (const char of value) {
    if (KEPT.test(char)) escaped += char;
    else for (const byte of Buffer.from(char, 'utf8')) escaped += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return escaped === HIVE_NULL ? `%5F${escaped.slice(1)}` : escaped;
}

/** The value a folder name's part after `=` stands for; a `%` not followed by two hex digits is kept as written. */
export function unescapePartitionValue(escaped: string): string | null {
  if (escaped === HIVE_NULL) return null;
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const hex = escaped[i] === '%' ? escaped.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(escaped[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `<column>=<value>`, both escaped; a DataError when the name would be longer than a folder name may be. */
export function partitionFolderName(column: string, value: string | null): string {
  const name = `${escapePartitionValue(column)}=${escapePartitionValue(value)}`;
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    const shown = value === null ? 'null' : `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (${value.length} characters)`;
    throw new DataError(`partition by ${JSON.stringify(column)}: the value ${shown} makes a folder name of ${bytes} bytes, more than the ${MAX_NAME_BYTES} a file system allows`, {
      hint: 'partition by a column with shorter values; nothing was written',
    });
  }
  return name;
}

/** The column and value of a folder etl names `<column>=<value>`, or undefined for any other name. */
export function parsePartitionFolderName(name: string): { column: string; value: string | null } | undefined {
  const equals = name.indexOf('=');
  if (equals < 1) return undefined;
  return { column: unescapePartitionValue(name.slice(0, equals)) ?? '', value: unescapePartitionValue(name.slice(equals + 1)) };
}
