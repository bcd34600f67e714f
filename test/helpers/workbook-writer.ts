import { writeFile } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import * as XLSX from '@e965/xlsx';

export type FixtureCell = string | number | Date | null;
export interface FixtureSheet {
  name: string;
  rows: FixtureCell[][];
}

/** Writes sheets as .xlsx (exceljs) or .xls (SheetJS BIFF8), the two formats ONS has published. */
export async function writeWorkbook(file: string, sheets: FixtureSheet[]): Promise<void> {
  if (file.endsWith('.xls')) {
    const workbook = XLSX.utils.book_new();
    for (const sheet of sheets) XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(sheet.rows, { cellDates: true }), sheet.name);
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff8' }) as Buffer);
    return;
  }
  const workbook = new ExcelJS.Workbook();
  for (const sheet of sheets) {
    const worksheet = workbook.addWorksheet(sheet.name);
    sheet.rows.forEach((row, r) => {
      row.forEach((value, c) => {
        if (value === null) return;
        const cell = worksheet.getCell(r + 1, c + 1);
        cell.value = value;
        if (value instanceof Date) cell.numFmt = 'd-mmm-yy';
      });
    });
  }
  await workbook.xlsx.writeFile(file);
}
