import { readFile } from 'node:fs/promises';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export interface ParquetContents {
  /** Leaf columns: name, physical type, logical/converted type. */
  columns: Array<{ name: string; type: string | undefined; logical: string | undefined }>;
  rows: Array<Record<string, unknown>>;
}

/** Reads a parquet file back with hyparquet, a reader independent of the DuckDB writer. */
export async function readParquet(file: string): Promise<ParquetContents> {
  const bytes = await readFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const metadata = await parquetMetadataAsync(buffer);
  const columns = metadata.schema.slice(1).map((element) => ({
    name: element.name,
    type: element.type,
    logical: (element.logical_type?.type as string | undefined) ?? element.converted_type,
  }));
  const rows = (await parquetReadObjects({ file: buffer, compressors })) as Array<Record<string, unknown>>;
  return { columns, rows };
}
