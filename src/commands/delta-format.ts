import type { TableDescription } from '../delta/describe-table.js';
import type { VacuumResult } from '../delta/vacuum.js';

/** `etl inspect` of a Delta table, as text. */
export function formatTable(table: TableDescription): string {
  const lines = [
    `${table.location}: Delta table, version ${table.version}${table.version === table.latest ? ' (latest)' : ` of ${table.latest}`}, protocol reader ${table.protocol.minReaderVersion} / writer ${table.protocol.minWriterVersion}${table.checkpoint === undefined ? '' : `, read from checkpoint ${table.checkpoint}`}`,
    `partitioned by: ${table.partitionColumns.length > 0 ? table.partitionColumns.join(', ') : '(none)'}`,
    `rows: ${table.rows ?? 'unknown (a file without stats)'}`,
    '',
    'schema:',
    ...table.schema.map((field) => `  ${field.name}  ${field.type}${field.nullable ? '' : ' not null'}`),
    '',
    `files (${table.files.length}):`,
    ...table.files.map((file) => `  ${file.path}  ${file.size} bytes${file.rows === undefined ? '' : `, ${file.rows} rows`}`),
    '',
    'history:',
    ...table.history.map((entry) => `  ${entry.version}  ${entry.timestamp ?? '?'}  ${entry.operation ?? '?'}  +${entry.added} -${entry.removed}${entry.engine ? `  ${entry.engine}` : ''}`),
  ];
  return lines.join('\n');
}

export function formatVacuum(result: VacuumResult): string {
  const verb = result.dryRun ? 'would delete' : 'deleted';
  const lines = [`${result.location}: ${verb} ${result.deleted.length} file${result.deleted.length === 1 ? '' : 's'}; ${result.oldestKept === result.latest ? `version ${result.latest} stays` : `versions ${result.oldestKept}-${result.latest} stay`} readable${result.keptYoung > 0 ? `; ${result.keptYoung} unreferenced file(s) younger than the retention kept (a writer may be about to commit them)` : ''}`];
  for (const file of result.deleted) lines.push(`  ${file}`);
  return lines.join('\n');
}
