import path from 'node:path';
import { DataError, diskFullError, isDiskFull } from '../../core/errors.js';
import { withAtomicFile } from '../../core/atomic-file.js';
import type { Row, RowBatch, Table, TablePart } from '../../core/table.js';
import { ParquetFileWriter } from './parquet-file.js';

export interface ParquetSummary {
  path: string;
  rows: number;
  parts: Array<{ name: string; rows: number }>;
  skipped: Array<{ name: string; reason: string }>;
}

export interface WriteParquetOptions {
  /** Leave out a part that fails with a DataError instead of failing the whole file. */
  skipBadParts?: boolean;
  onPartSkipped?: (name: string, error: DataError) => void;
}

/** Rows handed to the file writer at once: one property name per loop over them keeps V8's lookups fast. */
const BATCH_ROWS = 256;

/**
 * Streams a Table into one parquet file (parquet-file.ts): rows are checked against their columns and
 * packed column by column as they arrive, each full row group is encoded here and compressed (its large
 * pages on libuv's thread pool) and written while the next rows are read. Memory stays flat: one row group waits, one is
 * written. A part that fails leaves nothing of itself; the parquet file appears only when every row was
 * written, and on any error the previous file stays.
 *
 * Until issue 22 a worker thread wrote plain parquet that DuckDB then copied into a zstd file: DuckDB's
 * binding, buffer pool and final pass were most of the time and of the peak memory (README, Performance).
 */
export async function writeParquet(table: Table, destination: string, options: WriteParquetOptions = {}): Promise<ParquetSummary> {
  const columns = table.schema.columns;
  try {
    return await withAtomicFile(destination, async (temp) => {
      const writer = await ParquetFileWriter.create(temp, columns);
      try {
        const summary: ParquetSummary = { path: path.resolve(destination), rows: 0, parts: [], skipped: [] };
        for await (const part of table.parts) {
          writer.beginPart();
          try {
            const rows = await appendPart(part, writer, table.schema.name);
            writer.commitPart();
            summary.parts.push({ name: part.name, rows });
            summary.rows += rows;
          } catch (error) {
            if (!(error instanceof DataError) || !options.skipBadParts) throw error;
            await writer.rollbackPart();
            summary.skipped.push({ name: part.name, reason: error.message });
            options.onPartSkipped?.(part.name, error);
          }
        }
        if (summary.parts.length === 0) {
          throw new DataError(summary.skipped.length > 0 ? `nothing written to ${destination}: every input was skipped` : `nothing written to ${destination}: there was no input`, {
            hint: summary.skipped.length > 0 ? 'see the warnings above for why each input was skipped' : 'check the inputs and the --from/--to range',
          });
        }
        await writer.finish();
        return summary;
      } finally {
        await writer.close();
      }
    });
  } catch (error) {
    if (isDiskFull(error)) throw diskFullError(path.resolve(destination), error);
    throw error;
  }
}

/** Hands a part's rows to the writer in batches (the part's own arrays where it has them). */
async function appendPart(part: TablePart, writer: ParquetFileWriter, tableName: string): Promise<number> {
  let rows = 0;
  const where = `${part.name}: `;
  const append = async (batch: RowBatch): Promise<void> => {
    await writer.append(batch, { where, firstRow: rows + 1, table: tableName });
    rows += batch.length;
  };
  if (part.batches) {
    for await (const batch of part.batches) await append(batch);
    return rows;
  }
  let batch: Row[] = [];
  for await (const row of part.rows) {
    batch.push(row);
    if (batch.length === BATCH_ROWS) {
      await append(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await append(batch);
  return rows;
}
