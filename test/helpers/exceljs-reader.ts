import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import * as XLSX from '@e965/xlsx';
import type { Cell } from '../../src/transform/workbook/workbook.js';
import { writeZip } from './zip-writer.js';

export interface ReadSheet {
  name: string;
  rows: Array<{ rowNumber: number; cells: Cell[] }>;
}

/**
 * The reference for the .xlsx reader: exceljs's streaming reader, normalised to the engine's cells the
 * way etl did before it had its own reader (formulas to their result, rich text flattened, errors to null).
 */
export async function readWithExcelJs(file: string, scratchDir: string): Promise<ReadSheet[]> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(await workbookFirst(file, scratchDir), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'cache',
    entries: 'ignore',
  });
  const sheets: ReadSheet[] = [];
  for await (const worksheet of reader as unknown as AsyncIterable<AsyncIterable<{ number: number; values: unknown }> & { id: number; name?: string }>) {
    const sheet: ReadSheet = { name: worksheet.name ?? `Sheet${worksheet.id}`, rows: [] };
    for await (const row of worksheet) {
      const values = row.values as unknown[];
      const cells: Cell[] = [];
      for (let i = 1; i < values.length; i++) cells.push(normalise(values[i]));
      sheet.rows.push({ rowNumber: row.number, cells });
    }
    sheets.push(sheet);
  }
  return sheets;
}

/**
 * exceljs's streaming reader fails when the zip holds a sheet before workbook.xml, which exceljs's own
 * writer does now and then; a copy with the sheets last (re-zipped via SheetJS's CFB) reads the same.
 */
async function workbookFirst(file: string, scratchDir: string): Promise<string> {
  const archive = XLSX.CFB.read(await readFile(file), { type: 'buffer' }) as { FullPaths: string[]; FileIndex: Array<{ type: number; content: Uint8Array }> };
  const members = archive.FileIndex.map((entry, i) => ({ name: archive.FullPaths[i]!.replace(/^Root Entry\//, ''), entry }))
    .filter(({ name, entry }) => entry.type === 2 && !name.startsWith('\u0001'))
    .sort((a, b) => Number(a.name.includes('worksheets/')) - Number(b.name.includes('worksheets/')));
  const copy = path.join(scratchDir, `workbook-first-${path.basename(file)}`);
  await writeZip(copy, Object.fromEntries(members.map(({ name, entry }) => [name, entry.content])));
  return copy;
}

function normalise(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value;
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (Array.isArray(object.richText)) return (object.richText as Array<{ text: string }>).map((run) => run.text).join('');
    if ('result' in object) return normalise(object.result);
    if ('formula' in object || 'sharedFormula' in object) return null;
    if ('text' in object) return normalise(object.text);
    if ('error' in object) return null;
  }
  return String(value);
}
