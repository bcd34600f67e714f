import { open } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, DataError, errorMessage } from '../core/errors.js';
import type { WorkbookDataset } from '../transform/layout/dataset.js';
import { onsDatasets } from '../transform/datasets/index.js';
import { findDataset } from '../sources/ons.js';
import type { LayoutAttempt } from '../transform/layout/find-table.js';
import type { ParquetDescription } from '../transform/parquet/inspect-parquet.js';
import type { RowRulesSummary, TableLayout } from '../transform/layout/read-workbook-table.js';
import type { CommandContext } from './context.js';
import { datasetFileOption, parseCount, parsePositiveInt } from './options.js';

interface InspectFlags {
  dataset?: string;
  datasetFile?: string;
  rows: number;
  versionAsOf?: number;
  endpoint?: string;
  region?: string;
}

type Detection = { dataset: string; table: TableLayout; rows: RowRulesSummary } | { dataset: string; failed: string; attempts: readonly LayoutAttempt[] };

export function inspectCommand(context: () => Promise<CommandContext>): Command {
  return new Command('inspect')
    .description('show what is in a workbook (sheets, and the table each dataset finds), a parquet file (schema, row count, first rows) or a Delta table (version, schema, live files, history)')
    .argument('<file>', 'a workbook (.xls/.xlsx), a .parquet file, or a Delta table folder (local, s3:// or gs://)')
    .addOption(new Option('--dataset <name>', 'only this built-in dataset (default: try every one)'))
    .addOption(datasetFileOption())
    .addOption(new Option('--rows <n>', 'parquet: how many first rows to show').argParser(parsePositiveInt).default(10))
    .addOption(new Option('--version-as-of <n>', 'Delta table: show this version (time travel) instead of the latest').argParser(parseCount))
    .addOption(new Option('--endpoint <url>', 'Delta table on s3:// or gs://: an emulator or S3-compatible server'))
    .addOption(new Option('--region <name>', 'Delta table on s3://: the region'))
    .addHelpText('after', `
Examples:
  $ etl inspect publishedweek522021.xlsx                which sheet, header row, id columns and periods each dataset detects
  $ etl inspect new.xlsx --dataset-file my.json         the same for a declaration you are writing
  $ etl inspect data/processed/ons/weekly-deaths.parquet --rows 5
  $ etl inspect ./lake/monthly-deaths/                  a Delta table: history, live files, schema
  $ etl inspect s3://lake/ons/monthly-deaths/ --version-as-of 3   the table as of version 3

For a workbook, every layout tried is listed with the rule it failed, so an edition that moved
its table shows what to change in the declaration; then each row label with the canonical values
it maps to (weekly: measure, sex, age_band, area), and how many rows each geo_level has (monthly).
Exits 4 when no dataset finds a table.`)
    .action(async (file: string, flags: InspectFlags) => {
      const ctx = await context();
      if (await isDeltaTable(file)) {
        const [{ openLogStore }, { describeTable }, { formatTable }] = await Promise.all([import('../delta/open-store.js'), import('../delta/describe-table.js'), import('./delta-format.js')]);
        const where = /^[a-z][a-z0-9+.-]*:\/\//i.test(file) || path.isAbsolute(file) || /^\.\.?([/\\]|$)/.test(file) ? file : `./${file}`;
        const table = await describeTable(await openLogStore(where, { endpoint: flags.endpoint, region: flags.region }), flags.versionAsOf);
        if (!table) throw new ConfigError(`${file} is not a Delta table (no _delta_log/ commits)`, { hint: 'point at the folder that holds _delta_log/' });
        ctx.printResult(formatTable(table), { command: 'inspect', kind: 'delta', ...table });
        return;
      }
      if (flags.versionAsOf !== undefined) throw new ConfigError('--version-as-of goes with a Delta table', { hint: `${file} is not a folder holding _delta_log/` });
      if (await isParquet(file)) {
        const { describeParquet } = await import('../transform/parquet/inspect-parquet.js');
        const description = await describeParquet(file, flags.rows);
        ctx.printResult(formatParquet(file, description), { command: 'inspect', file, kind: 'parquet', ...description });
        return;
      }
      const datasets: readonly WorkbookDataset[] = flags.datasetFile ? [await (await import('../transform/layout/dataset-file.js')).loadDatasetFile(flags.datasetFile)] : flags.dataset ? [findDataset(flags.dataset)] : onsDatasets;
      // The readers load when a workbook is inspected, not at start-up.
      const { listSheets } = await import('../transform/workbook/workbook.js');
      const sheets = await listSheets(file);
      const detections: Detection[] = [];
      for (const dataset of datasets) detections.push(await detect(file, dataset));
      ctx.printResult(formatWorkbook(file, sheets, detections), { command: 'inspect', file, kind: 'workbook', sheets, detections });
      if (!detections.some((d) => 'table' in d)) {
        throw new DataError(`${path.basename(file)}: no declared layout matches (${datasets.map((d) => d.name).join(', ')})`, { hint: 'the rules that failed are listed above; adjust the declaration or write one with --dataset-file' });
      }
    });
}

async function detect(file: string, dataset: WorkbookDataset): Promise<Detection> {
  const { describeRowRules, detectTableLayout } = await import('../transform/layout/read-workbook-table.js');
  const { NoTableError } = await import('../transform/layout/find-table.js');
  try {
    const table = await detectTableLayout({ file }, dataset);
    return { dataset: dataset.name, table, rows: await describeRowRules({ file }, dataset) };
  } catch (error) {
    if (error instanceof NoTableError) return { dataset: dataset.name, failed: 'no layout matches', attempts: error.attempts };
    if (error instanceof DataError) return { dataset: dataset.name, failed: errorMessage(error), attempts: [] };
    throw error;
  }
}

/**
 * Parquet files start with `PAR1`; anything else is left to the workbook reader to recognise. A file that
 * cannot be opened is a usage error (exit 2), as a missing input is in every command.
 */
/** A bucket URL (s3://, gs://) or a local folder holding `_delta_log/`. */
async function isDeltaTable(file: string): Promise<boolean> {
  if (/^(s3|gs):\/\//i.test(file)) return true;
  const { stat } = await import('node:fs/promises');
  return (await stat(path.join(file.startsWith('file://') ? new URL(file).pathname : file, '_delta_log')).catch(() => null))?.isDirectory() ?? false;
}

async function isParquet(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch((error: unknown) => {
    throw new ConfigError(`${file}: cannot open (${errorMessage(error)})`, { hint: 'check the path' });
  });
  try {
    if ((await handle.stat()).isDirectory()) {
      throw new ConfigError(`${file} is a directory`, { hint: 'give one workbook (.xls/.xlsx) or .parquet file; `etl transform --input` takes directories' });
    }
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && head.toString('latin1') === 'PAR1';
  } finally {
    await handle.close();
  }
}

function formatWorkbook(file: string, sheets: readonly string[], detections: readonly Detection[]): string {
  const lines = [`${path.basename(file)}: ${sheets.length} sheets: ${sheets.map((s) => `"${s}"`).join(', ')}`];
  for (const detection of detections) {
    if (!('table' in detection)) {
      lines.push(`${detection.dataset}: ${detection.failed}`);
      lines.push(...detection.attempts.map(formatAttempt));
      continue;
    }
    const { table } = detection;
    lines.push(`${detection.dataset}: table on sheet "${table.sheet}" (layout "${table.layout}"), edition ${table.edition}, header row ${table.headerRow}`);
    if (table.periodAxis === 'columns') {
      const [first, last] = [table.periodColumns[0]!, table.periodColumns.at(-1)!];
      lines.push(`  id columns ${table.idColumns.join(', ')}; periods across ${table.periodColumns.length} columns: ${first.cell} "${first.label}" = ${first.period} … ${last.cell} "${last.label}" = ${last.period}`);
    } else {
      lines.push(`  one row per period; period columns ${table.idColumns.join(', ')}; value columns:`);
      lines.push(...table.valueColumns.map((v) => `    ${v.cell} "${v.label}" -> ${Object.entries(v.fields).map(([k, t]) => `${k}=${t}`).join(', ')}`));
    }
    lines.push(...table.rejected.map(formatAttempt));
    for (const [field, counts] of Object.entries(detection.rows.classified)) {
      lines.push(`  ${field} (rows of the first period): ${Object.entries(counts).map(([value, n]) => `${value} ${n}`).join(', ')}`);
    }
    if (detection.rows.labels.length > 0) lines.push('  row labels -> canonical values:');
    for (const { cell, printed, canonical } of detection.rows.labels) {
      const known = Object.values(canonical).some((value) => value !== null);
      const values = known ? Object.entries(canonical).map(([field, value]) => `${field}=${value === null ? '-' : String(value)}`).join(' ') : 'not in the declaration (canonical fields null)';
      lines.push(`    ${cell.padEnd(5)} "${printed}" -> ${values}`);
    }
    lines.push(...detection.rows.warnings.map((warning) => `  warning: ${warning}`));
  }
  return lines.join('\n');
}

function formatAttempt(attempt: LayoutAttempt): string {
  return `  layout "${attempt.layout}" did not match${attempt.sheet ? ` on sheet "${attempt.sheet}"` : ''}: ${attempt.failed}`;
}

function formatParquet(file: string, { rows, columns, head }: ParquetDescription): string {
  const lines = [`${path.basename(file)}: ${rows} rows, ${columns.length} columns`];
  lines.push(...alignColumns(columns.map((c) => [c.name, c.type, c.parquet])).map((line) => `  ${line}`));
  if (head.length > 0) {
    lines.push(`first ${head.length} rows:`);
    const names = columns.map((c) => c.name);
    lines.push(...alignColumns([names, ...head.map((row) => names.map((name) => (row[name] === null ? '' : String(row[name]))))]).map((line) => `  ${line}`));
  }
  return lines.join('\n');
}

function alignColumns(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}
