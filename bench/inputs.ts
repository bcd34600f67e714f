import { createCipheriv } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import * as XLSX from '@e965/xlsx';
import { MONTHS } from '../test/fixtures/ons/monthly-workbook.js';
import type { Cell } from '../src/transform/workbook/workbook.js';
import { TABULAR_COLUMNS, tabularCells } from './tabular-data.js';

/** Bump when a generator changes, so cached inputs are made again. */
const GENERATOR_VERSION = '1';

/**
 * A monthly-deaths sheet as ONS lays it out (title rows, header at row 4, a code and a name column,
 * twelve month columns, footnotes below), with `areas` area rows.
 */
function monthlyRows(areas: number): Cell[][] {
  const rows: Cell[][] = [
    ['Contents'],
    ['Monthly figures on deaths registered by area of usual residence, 2022'],
    [],
    ['Area of usual residence', null, ...MONTHS.map((m) => `${m}-22`)],
  ];
  for (let i = 0; i < areas; i++) rows.push([`E${String(i).padStart(8, '0')}`, `Area ${i} name`, ...MONTHS.map((_, m) => (i * 7 + m * 13) % 5000)]);
  rows.push([], ['Footnotes:'], ['1 Figures are provisional.']);
  return rows;
}

/** exceljs's streaming writer with shared strings and styles, as Excel files have them. */
async function writeXlsx(file: string, sheetName: string, rows: Iterable<Cell[]>, dateFormat?: string): Promise<void> {
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true, useStyles: true });
  const sheet = writer.addWorksheet(sheetName);
  for (const cells of rows) {
    const row = sheet.addRow(cells);
    if (dateFormat) cells.forEach((cell, c) => cell instanceof Date && (row.getCell(c + 1).numFmt = dateFormat));
    row.commit();
  }
  sheet.commit();
  await writer.commit();
}

function writeXls(file: string, sheetName: string, rows: Cell[][]): Promise<void> {
  const workbook = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows), sheetName);
  return writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }) as Buffer);
}

function* tabularRows(rows: number): Generator<Cell[]> {
  yield TABULAR_COLUMNS.map((c) => c.name);
  for (let i = 0; i < rows; i++) yield tabularCells(i);
}

/**
 * `bytes` that no compressor can shrink (an AES-CTR keystream), the same on every machine: the file the load
 * scenarios upload, so neither a store nor a transport can make it smaller on the way.
 */
function writeIncompressible(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 'etl-bench'), Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  async function* chunks() {
    for (let written = 0; written < bytes; written += zeros.length) yield cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - written)));
  }
  return pipeline(Readable.from(chunks()), createWriteStream(file));
}

export interface Inputs {
  monthly6k: string;
  monthly60k: string;
  monthly60kXls: string;
  tabular1m: string;
  load256MiB: string;
}

export const TABULAR_ROWS = 1_000_000;
export const LOAD_BYTES = 256 * 1024 * 1024;

/** Generates what is missing (or everything with `fresh`) into `dir`; a cached input is reused. */
export async function prepareInputs(dir: string, fresh: boolean, log: (line: string) => void): Promise<Inputs> {
  await mkdir(dir, { recursive: true });
  const versionFile = path.join(dir, 'generator-version');
  const cachedVersion = await readFile(versionFile, 'utf8').catch(() => '');
  const reuse = !fresh && cachedVersion === GENERATOR_VERSION;
  const make = async (name: string, write: (file: string) => Promise<void>): Promise<string> => {
    const file = path.join(dir, name);
    if (reuse && (await stat(file).catch(() => null))) return file;
    const started = performance.now();
    log(`  generating ${name}${name.endsWith('.xls') ? " (SheetJS's .xls writer takes about 90 s; the file is kept for later runs)" : ''}`);
    await write(`${file}.partial`);
    await rename(`${file}.partial`, file);
    log(`    ${((await stat(file)).size / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return file;
  };
  const inputs: Inputs = {
    monthly6k: await make('monthly-6k.xlsx', (f) => writeXlsx(f, 'Figures for 2022', monthlyRows(6_000))),
    monthly60k: await make('monthly-60k.xlsx', (f) => writeXlsx(f, 'Figures for 2022', monthlyRows(60_000))),
    monthly60kXls: await make('monthly-60k.xls', (f) => writeXls(f, 'Figures for 2022', monthlyRows(60_000))),
    tabular1m: await make('tabular-1m.xlsx', (f) => writeXlsx(f, 'Data', tabularRows(TABULAR_ROWS), 'yyyy-mm-dd')),
    load256MiB: await make('load-256mib.bin', (f) => writeIncompressible(f, LOAD_BYTES)),
  };
  await writeFile(versionFile, GENERATOR_VERSION);
  return inputs;
}
