import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../src/core/errors.js';
import { limitsHelp, workbookLimits } from '../../../src/transform/workbook/limits.js';
import { listSheets, readWorkbook, type Cell } from '../../../src/transform/workbook/workbook.js';
import { craftXlsx, sheetXml } from '../../helpers/crafted-xlsx.js';
import { sheetRows } from '../../helpers/sheet-rows.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';
import { withEnv } from '../../helpers/env.js';
import { hostileWorkbooks } from '../../fixtures/ons/hostile-workbooks.js';
import { rewriteBiff, toSharedStrings } from '../../helpers/biff.js';

/**
 * Each workbook limit enforced at its edge, in-process (the hostile-workbook e2e suite covers the same limits at
 * their defaults through the CLI): a workbook exactly at a limit reads, one step past it is a data error naming
 * the file, the sheet or part, the cell, and the variable that raises it. Limits are lowered through the same
 * environment variables users set, so the files stay a few KB.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-limits-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every row of every sheet; the data error, if reading fails. */
async function readEverySheet(file: string, env: Record<string, string> = {}): Promise<number | DataError> {
  return withEnv(env, async () => {
    let rows = 0;
    try {
      for await (const sheet of readWorkbook(file)) for await (const row of sheetRows(sheet)) rows += row.cells.length > 0 ? 1 : 0;
      return rows;
    } catch (error) {
      if (error instanceof DataError) return error;
      throw error;
    }
  });
}

/** Every row of the first sheet, as [rowNumber, cells]; the error, if reading fails. */
async function firstSheet(file: string, env: Record<string, string> = {}): Promise<Array<[number, Cell[]]> | DataError> {
  return withEnv(env, async () => {
    try {
      for await (const sheet of readWorkbook(file)) {
        const rows: Array<[number, Cell[]]> = [];
        for await (const row of sheetRows(sheet)) rows.push([row.rowNumber, [...row.cells]]);
        return rows;
      }
      throw new Error('no sheet');
    } catch (error) {
      if (error instanceof DataError) return error;
      throw error;
    }
  });
}

function expectDataError(outcome: unknown, message: RegExp, hint: RegExp): void {
  expect(outcome).toBeInstanceOf(DataError);
  expect((outcome as DataError).message).toMatch(message);
  expect((outcome as DataError).hint).toMatch(hint);
}

const crafted = (name: string, body: string, sharedStrings?: string): Promise<string> =>
  craftXlsx(path.join(dir, name), { sheets: [{ name: 'Figures', xml: sheetXml(body) }], sharedStrings });
const inline = (ref: string, text: string): string => `<c r="${ref}" t="inlineStr"><is><t>${text}</t></is></c>`;

describe('limits on an .xlsx', () => {
  it('a cell of exactly ETL_WORKBOOK_MAX_CELL_CHARS characters reads; one more is refused, naming the cell', async () => {
    const env = { ETL_WORKBOOK_MAX_CELL_CHARS: '8' };
    expect(await firstSheet(await crafted('cell-at.xlsx', `<row r="5">${inline('B5', 'ENGLAND!')}<c r="C5" t="str"><f>B5</f><v>12345678</v></c></row>`), env)).toEqual([[5, [null, 'ENGLAND!', '12345678']]]);
    expectDataError(await firstSheet(await crafted('inline-over.xlsx', `<row r="5">${inline('B5', 'ENGLAND!!')}</row>`), env), /^inline-over\.xlsx, sheet "Figures", cell B5: XML text or markup longer than 8 characters$/, /ETL_WORKBOOK_MAX_CELL_CHARS/);
    expectDataError(await firstSheet(await crafted('value-over.xlsx', `<row r="5"><c r="C5" t="str"><f>B5</f><v>123456789</v></c></row>`), env), /^value-over\.xlsx, sheet "Figures", cell C5: XML text or markup longer than 8 characters$/, /ETL_WORKBOOK_MAX_CELL_CHARS/);
  });

  it('shared strings: ETL_WORKBOOK_MAX_SHARED_STRINGS entries read, one more is refused; so are characters past ETL_WORKBOOK_MAX_SHARED_STRING_CHARS', async () => {
    const body = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>2</v></c></row>';
    const items = (...texts: string[]): string => texts.map((text) => `<si><t>${text}</t></si>`).join('');
    const env = { ETL_WORKBOOK_MAX_SHARED_STRINGS: '3', ETL_WORKBOOK_MAX_SHARED_STRING_CHARS: '10' };
    expect(await firstSheet(await crafted('strings-at.xlsx', body, items('abcd', 'efg', 'hij')), env)).toEqual([[1, ['abcd', 'hij']]]);
    expectDataError(await firstSheet(await crafted('strings-count.xlsx', body, items('a', 'b', 'c', 'd')), env), /^strings-count\.xlsx, shared strings: more than 3 entries$/, /ETL_WORKBOOK_MAX_SHARED_STRINGS /);
    expectDataError(await firstSheet(await crafted('strings-chars.xlsx', body, items('abcd', 'efg', 'hijk')), env), /^strings-chars\.xlsx, shared strings: more than 10 characters in all$/, /ETL_WORKBOOK_MAX_SHARED_STRING_CHARS/);
    // One item in many rich-text runs counts as one cell.
    const runs = `<si>${'<r><t>ab</t></r>'.repeat(5)}</si>`;
    expectDataError(await firstSheet(await crafted('strings-runs.xlsx', body, runs), { ETL_WORKBOOK_MAX_CELL_CHARS: '9' }), /^strings-runs\.xlsx, part xl\/sharedStrings\.xml: XML text or markup longer than 9 characters$/, /ETL_WORKBOOK_MAX_CELL_CHARS/);
  });

  it('a value in the last column a row may span reads, one column further is refused; empty styled cells further right are fine', async () => {
    const env = { ETL_WORKBOOK_MAX_COLUMNS: '4' };
    expect(await firstSheet(await crafted('columns-at.xlsx', '<row r="2"><c r="D2"><v>4</v></c><c r="Z2" s="0"/><c r="AA2"><v></v></c></row>'), env)).toEqual([[2, [null, null, null, 4]]]);
    expectDataError(await firstSheet(await crafted('columns-over.xlsx', '<row r="2"><c r="E2"><v>5</v></c></row>'), env), /^columns-over\.xlsx, sheet "Figures", cell E2 lies past column D, the last a row may span$/, /ETL_WORKBOOK_MAX_COLUMNS/);
  });

  it("Excel's own grid: column XFD and row 1,048,576 read (with the column limit raised); beyond them is a corrupt or crafted file", async () => {
    const raised = { ETL_WORKBOOK_MAX_COLUMNS: '16384' };
    const last = await firstSheet(await crafted('grid-at.xlsx', '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'), raised);
    expect(Array.isArray(last) && last.map(([row, cells]) => [row, cells.length, cells.at(-1)])).toEqual([[1_048_576, 16_384, 1]]);
    const crafted$ = /corrupt or crafted/;
    expectDataError(await firstSheet(await crafted('past-xfd.xlsx', '<row r="7"><c r="XFE7"><v>1</v></c></row>'), raised), /^past-xfd\.xlsx, sheet "Figures", cell XFE7 lies past Excel's last column XFD$/, crafted$);
    // One letter past XFD: the column must not stop counting at XFD itself.
    expectDataError(await firstSheet(await crafted('xfd-and-one.xlsx', '<row r="7"><c r="XFDA7"><v>1</v></c></row>'), raised), /cell XFDA7 lies past Excel's last column XFD$/, crafted$);
    expectDataError(await firstSheet(await crafted('far-past-xfd.xlsx', '<row r="7"><c r="ZZZZZZZZ7"><v>1</v></c></row>')), /cell ZZZZZZZZ7 lies past Excel's last column XFD$/, crafted$);
    expectDataError(await firstSheet(await crafted('past-last-row.xlsx', '<row r="1048577"><c r="A1048577"><v>1</v></c></row>')), /^past-last-row\.xlsx, sheet "Figures", row 1048577 lies past Excel's last row 1048576$/, crafted$);
    // A cell without a reference follows the previous one: after XFD there is no column left.
    expectDataError(await firstSheet(await crafted('unreferenced.xlsx', '<row r="3"><c r="XFD3"><v>1</v></c><c><v>2</v></c></row>'), raised), /cell XFE3 lies past Excel's last column XFD$/, crafted$);
  });

  it('a part inflating to exactly ETL_WORKBOOK_MAX_PART_BYTES reads; one byte less allowed is refused, naming the part', async () => {
    const body = `<row r="1">${inline('A1', 'x'.repeat(2000))}</row>`;
    const file = await crafted('part.xlsx', body);
    const partBytes = Buffer.byteLength(sheetXml(body));
    expect(await firstSheet(file, { ETL_WORKBOOK_MAX_PART_BYTES: String(partBytes) })).toEqual([[1, ['x'.repeat(2000)]]]);
    expectDataError(await firstSheet(file, { ETL_WORKBOOK_MAX_PART_BYTES: String(partBytes - 1) }), new RegExp(`^part\\.xlsx, sheet "Figures", part xl/worksheets/sheet1\\.xml inflates to more than ${partBytes - 1} bytes$`), /ETL_WORKBOOK_MAX_PART_BYTES/);
  });
});

describe('limits on an .xls', () => {
  /** A BIFF8 workbook of one sheet, as SheetJS writes it (shared strings in an SST record). */
  async function xls(name: string, rows: Cell[][]): Promise<string> {
    const file = path.join(dir, name);
    await writeWorkbook(file, [{ name: 'Figures', rows: rows as Array<Array<string | number | null>> }]);
    return file;
  }

  it('the whole file counts against ETL_WORKBOOK_MAX_PART_BYTES (it is held at once)', async () => {
    const file = await xls('size.xls', [['a', 1]]);
    const { length } = await readFile(file);
    expect(await firstSheet(file, { ETL_WORKBOOK_MAX_PART_BYTES: String(length) })).toEqual([[1, ['a', 1]]]);
    expectDataError(await firstSheet(file, { ETL_WORKBOOK_MAX_PART_BYTES: String(length - 1) }), new RegExp(`^size\\.xls, the \\.xls file is ${length} bytes, more than ${length - 1}$`), /ETL_WORKBOOK_MAX_PART_BYTES/);
  });

  it('columns, shared-string entries and characters are bounded as in an .xlsx', async () => {
    const file = await xls('strings.xls', [['abcd', 'efg', null, 'hij']]);
    await rewriteBiff(file, toSharedStrings);
    expect(await firstSheet(file, { ETL_WORKBOOK_MAX_COLUMNS: '4', ETL_WORKBOOK_MAX_SHARED_STRINGS: '3', ETL_WORKBOOK_MAX_SHARED_STRING_CHARS: '10' })).toEqual([[1, ['abcd', 'efg', null, 'hij']]]);
    expectDataError(await firstSheet(file, { ETL_WORKBOOK_MAX_COLUMNS: '3' }), /^strings\.xls, sheet "Figures", cell D1 lies past column C, the last a row may span$/, /ETL_WORKBOOK_MAX_COLUMNS/);
    expectDataError(await firstSheet(file, { ETL_WORKBOOK_MAX_SHARED_STRINGS: '2' }), /^strings\.xls, shared strings: the table declares 3 entries, more than 2$/, /ETL_WORKBOOK_MAX_SHARED_STRINGS /);
    expectDataError(await firstSheet(file, { ETL_WORKBOOK_MAX_SHARED_STRING_CHARS: '9' }), /^strings\.xls, shared strings: more than 9 characters in all$/, /ETL_WORKBOOK_MAX_SHARED_STRING_CHARS/);
  });
});

describe('the limits in force', () => {
  const MIB = 1024 * 1024;
  const DEFAULTS = { partBytes: 256 * MIB, cellChars: 64 * 1024, columns: 4096, sharedStrings: 2_000_000, sharedStringChars: 64 * MIB };

  it('are the defaults unless a variable is set (blank counts as unset)', () => {
    expect(workbookLimits({})).toEqual(DEFAULTS);
    expect(workbookLimits({ ETL_WORKBOOK_MAX_COLUMNS: '  ', ETL_WORKBOOK_MAX_CELL_CHARS: '' })).toEqual(DEFAULTS);
  });

  it.each([
    ['100', 100],
    [' 512 ', 512],
    ['16k', 16 * 1024],
    ['16KiB', 16 * 1024],
    ['16M', 16 * MIB],
    ['16 mb', 16 * MIB],
    ['2G', 2048 * MIB],
    ['1GiB', 1024 * MIB],
  ])('ETL_WORKBOOK_MAX_PART_BYTES=%j is %d bytes', (raw, bytes) => {
    expect(workbookLimits({ ETL_WORKBOOK_MAX_PART_BYTES: raw }).partBytes).toBe(bytes);
  });

  it.each(['0', 'lots', '1.5M', '-1', '16T', '16 M B', '9007199254740993'])('ETL_WORKBOOK_MAX_CELL_CHARS=%j is a usage error naming the variable', (raw) => {
    expect(() => workbookLimits({ ETL_WORKBOOK_MAX_CELL_CHARS: raw })).toThrow(ConfigError);
    expect(() => workbookLimits({ ETL_WORKBOOK_MAX_CELL_CHARS: raw })).toThrow(
      expect.objectContaining({ message: `ETL_WORKBOOK_MAX_CELL_CHARS=${JSON.stringify(raw)} is not a limit`, hint: 'give a whole number of 1 or more, optionally with K, M or G (e.g. 256M)' }),
    );
  });

  it("a row never spans more than Excel's 16,384 columns, whatever the variable says", () => {
    expect(workbookLimits({ ETL_WORKBOOK_MAX_COLUMNS: '100000' }).columns).toBe(16_384);
    expect(workbookLimits({ ETL_WORKBOOK_MAX_COLUMNS: '16384' }).columns).toBe(16_384);
    expect(workbookLimits({ ETL_WORKBOOK_MAX_COLUMNS: '16383' }).columns).toBe(16_383);
  });

  it('--help lists every variable with its default in readable units', () => {
    const help = limitsHelp();
    expect(help.split('\n').filter((line) => line.startsWith('  ETL_WORKBOOK_MAX_'))).toHaveLength(5);
    expect(help).toMatch(/ETL_WORKBOOK_MAX_PART_BYTES +uncompressed bytes .*\(default 256M\)/);
    expect(help).toMatch(/ETL_WORKBOOK_MAX_CELL_CHARS +characters .*\(default 64K\)/);
    expect(help).toMatch(/ETL_WORKBOOK_MAX_COLUMNS +columns one row may span \(at most 16384, Excel's XFD\) \(default 4K\)/);
    expect(help).toMatch(/ETL_WORKBOOK_MAX_SHARED_STRINGS +entries .*\(default 2000000\)/);
    expect(help).toMatch(/ETL_WORKBOOK_MAX_SHARED_STRING_CHARS +characters of all .*\(default 64M\)/);
  });
});

describe('the hostile workbooks of the e2e suite, read in-process', () => {
  // The ones a reader itself refuses, and quickly; the rest need the table layout, or seconds of reading (big-part.xlsx
  // scans 16 MB: a minute under mutation testing's coverage counters; the part limit is tested at its edge above).
  const READER_LEVEL = ['past-xfd.xlsx', 'past-last-row.xlsx', 'wide-row.xlsx', 'digits-1g.xlsx', 'long-name.xlsx', 'long-shared-name.xlsx', 'cut.xls', 'locked.xls', 'locked.xlsx', 'wide.xls'];
  /** The file a case writes, as its expected message starts: `past-xfd\.xlsx, sheet ...`. */
  const fileOf = (hostile: (typeof hostileWorkbooks)[number]): string => hostile.message.source.split(/[,:]/)[0]!.replaceAll('\\.', '.');
  const cases = hostileWorkbooks.filter((hostile) => READER_LEVEL.includes(fileOf(hostile)));

  it('covers each reader-level case', () => {
    expect(cases.map(fileOf).sort()).toEqual([...READER_LEVEL].sort());
  });


  it.each(cases.map((hostile) => [hostile.name, hostile] as const))('%s', async (_name, hostile) => {
    const file = await hostile.write(dir);
    const outcome = await readEverySheet(file, hostile.env);
    expect(outcome).toBeInstanceOf(DataError);
    // Anchored: the reader's own error, not one wrapped in "cannot read the workbook (…)".
    expect((outcome as DataError).message).toMatch(new RegExp(`^${hostile.message.source.replace(/ \.\*ETL_WORKBOOK_\w+$/, '')}`));
    await rm(file);
  });
});

describe('what is not a workbook', () => {
  it('an HTML page saved under a workbook name, other bytes, an empty file and a missing one are data errors that say which', async () => {
    const html = path.join(dir, 'error-page.xlsx');
    await writeFile(html, '  <!DOCTYPE html><html><body>Service unavailable</body></html>');
    expectDataError(await firstSheet(html), /^error-page\.xlsx: not an Excel workbook \(starts with " {2}<!DOCTYPE html"\)$/, /HTML page/);
    const binary = path.join(dir, 'binary.xls');
    await writeFile(binary, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0, 1, 2, 3, 0x50, 0x4b, 3, 4]));
    expectDataError(await firstSheet(binary), /^binary\.xls: not an Excel workbook \(starts with "\.\.\.\.\.\.\.\.PK\.\."\)$/, /expected \.xlsx \(zip\) or \.xls \(OLE2\) content/);
    const zipHead = path.join(dir, 'three-bytes.xlsx');
    await writeFile(zipHead, Buffer.from([0x50, 0x4b, 0x03]));
    expectDataError(await firstSheet(zipHead), /^three-bytes\.xlsx: not an Excel workbook \(starts with "PK\."\)$/, /expected/);
    const csv = path.join(dir, 'export.xlsx');
    await writeFile(csv, 'Area,Deaths <5\nENGLAND,12\n');
    expectDataError(await firstSheet(csv), /^export\.xlsx: not an Excel workbook \(starts with "Area,Deaths <5\.E"\)$/, /^expected \.xlsx \(zip\) or \.xls \(OLE2\) content$/);
    // The bare signatures are enough to be taken for a workbook, whose reader then says what is missing.
    const zipSignature = path.join(dir, 'signature.xlsx');
    await writeFile(zipSignature, Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    expectDataError(await firstSheet(zipSignature), /^signature\.xlsx: cannot read the workbook \(no zip end-of-central-directory record \(truncated\?\)\)$/, /^the file may be truncated or corrupt: delete it and extract again$/);
    const oleSignature = path.join(dir, 'signature.xls');
    await writeFile(oleSignature, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]));
    expectDataError(await firstSheet(oleSignature), /^signature\.xls: cannot read the workbook \(its OLE2 container/, /truncated or corrupt/);
    const missing = path.join(dir, 'missing.xlsx');
    expectDataError(await firstSheet(missing), new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot open \\(.*ENOENT`), /check the path/);
  });

  it('a reader that stops early (a header found) can read the sheet again; the sheet names come in workbook order', async () => {
    const file = await craftXlsx(path.join(dir, 'two-sheets.xlsx'), {
      sheets: [
        { name: 'Contents', xml: sheetXml('<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>') },
        { name: 'Figures', xml: sheetXml('<row r="1"><c r="A1"><v>3</v></c></row>') },
      ],
    });
    expect(await listSheets(file)).toEqual(['Contents', 'Figures']);
    for await (const sheet of readWorkbook(file)) {
      for await (const row of sheetRows(sheet)) {
        expect(row.rowNumber).toBe(1);
        break;
      }
      const again: number[] = [];
      for await (const row of sheetRows(sheet)) again.push(row.rowNumber);
      expect(again).toEqual(sheet.name === 'Contents' ? [1, 2] : [1]);
    }
  });

  it('an .xls whose content is SheetJS-readable but not BIFF8 is read through SheetJS', async () => {
    const file = path.join(dir, 'biff5.xls');
    const workbook = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet([['old', 2]]), 'Figures');
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'biff5' }) as Buffer);
    expect(await firstSheet(file, { ETL_WORKBOOK_MAX_SHARED_STRINGS: '1' })).toEqual([[1, ['old', 2]]]);
  });
});
