import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { isDateFormatCode } from '../../../src/transform/workbook/excel-dates.js';
import { readWorkbook, type Cell } from '../../../src/transform/workbook/workbook.js';
import { monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { readWithExcelJs, type ReadSheet } from '../../helpers/exceljs-reader.js';
import { sheetRows } from '../../helpers/sheet-rows.js';
import { hasSharedData, sharedDataDir } from '../../helpers/shared-data.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';
import { RELS_NS, craftXlsx, sheetXml, type CraftedParts } from '../../helpers/crafted-xlsx.js';
import { writeZip } from '../../helpers/zip-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-xlsx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(file: string): Promise<ReadSheet[]> {
  const sheets: ReadSheet[] = [];
  for await (const sheet of readWorkbook(file)) {
    const read: ReadSheet = { name: sheet.name, rows: [] };
    for await (const row of sheetRows(sheet)) read.rows.push({ rowNumber: row.rowNumber, cells: [...row.cells] });
    sheets.push(read);
  }
  return sheets;
}

/** Trailing empty cells carry nothing (exceljs keeps styled empty cells, we do not). */
function trimmed(sheets: ReadSheet[]): ReadSheet[] {
  return sheets.map((sheet) => ({
    name: sheet.name,
    rows: sheet.rows.map(({ rowNumber, cells }) => {
      let end = cells.length;
      while (end > 0 && cells[end - 1] === null) end--;
      return { rowNumber, cells: cells.slice(0, end) };
    }),
  }));
}

/** Workbooks written by exceljs's two writers, with the cell kinds real workbooks hold. */
async function generatedWorkbooks(): Promise<string[]> {
  const files: string[] = [];
  const add = (name: string): string => {
    const file = path.join(dir, name);
    files.push(file);
    return file;
  };

  for (const shape of [{ year: 2006, nameLevels: 3, headerRow: 3 }, { year: 2012, codes: false }, { year: 2019, label: (m: string, y: string) => `${m}-${y}3` }, { year: 2020, publishedMonths: 2 }]) {
    await writeWorkbook(add(`monthly-${shape.year}.xlsx`), monthlySheets(shape));
  }
  await writeWorkbook(add('monthly-dates.xlsx'), monthlySheets({ year: 2021, label: (m) => new Date(Date.UTC(2021, ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m), 1)) }));

  const workbook = new ExcelJS.Workbook();
  const cells = workbook.addWorksheet('Cells & <kinds>');
  cells.getCell('A1').value = { richText: [{ text: 'Rich ' }, { font: { bold: true }, text: 'text' }] };
  cells.getCell('B1').value = 'tab\there & "quotes" <tag> ünïcødé 😀';
  cells.getCell('C1').value = '  padded  ';
  cells.getCell('D1').value = '00123';
  cells.getCell('A2').value = true;
  cells.getCell('B2').value = false;
  cells.getCell('C2').value = -1.5e-7;
  cells.getCell('D2').value = 123456789012;
  cells.getCell('E2').value = 0.1 + 0.2;
  cells.getCell('A3').value = { formula: 'C2*2', result: -3e-7 };
  cells.getCell('B3').value = { formula: 'D1&"x"', result: '00123x' };
  cells.getCell('C3').value = { error: '#N/A' };
  cells.getCell('AB7').value = 'far right, rows 4-6 missing';
  const formats = ['d-mmm-yy', 'yyyy-mm-dd', 'mmm-yy', 'dd/mm/yyyy hh:mm', '[h]:mm:ss', '0.00', '#,##0', '0" days"', '[Red]0.0'];
  formats.forEach((numFmt, i) => {
    const cell = cells.getCell(9, i + 1);
    cell.value = numFmt.includes('0') && !numFmt.includes('mm') ? 44197.25 : new Date(Date.UTC(2021, 0, 1, 6));
    cell.numFmt = numFmt;
  });
  const second = workbook.addWorksheet('Second');
  second.addRow(['only', 'one', 'row']);
  await workbook.xlsx.writeFile(add('exceljs-document.xlsx'));

  const streamed = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: add('exceljs-stream.xlsx'), useSharedStrings: false, useStyles: true });
  const sheet = streamed.addWorksheet('Streamed');
  for (let r = 0; r < 200; r++) {
    const row = sheet.addRow([`row ${r}`, r, r % 3 === 0 ? null : r / 7, new Date(Date.UTC(2020, r % 12, 1))]);
    row.getCell(4).numFmt = 'mmm-yy';
    row.commit();
  }
  sheet.commit();
  await streamed.commit();
  return files;
}

async function sharedWorkbooks(): Promise<string[]> {
  if (!hasSharedData) return [];
  const entries = await readdir(sharedDataDir, { recursive: true });
  return entries.filter((name) => name.endsWith('.xlsx')).map((name) => path.join(sharedDataDir, name));
}

describe('the .xlsx reader gives exactly the cells exceljs gives', () => {
  it('on generated workbooks and on every real .xlsx in ../shared/data', async () => {
    const files = [...(await generatedWorkbooks()), ...(await sharedWorkbooks())];
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const file of files) {
      const ours = trimmed(await readAll(file));
      const reference = trimmed(await readWithExcelJs(file, dir));
      expect({ file: path.basename(file), sheets: ours }).toEqual({ file: path.basename(file), sheets: reference });
    }
  });
});

/** An .xlsx from hand-written XML, for what no library writes but Excel and other tools may. */
const crafted = (name: string, parts: CraftedParts): Promise<string> => craftXlsx(path.join(dir, name), parts);

function cellsOf(sheets: ReadSheet[]): Array<[number, Cell[]]> {
  return sheets[0]!.rows.map((row) => [row.rowNumber, row.cells]);
}

describe('the .xlsx reader beyond what exceljs handles', () => {
  it('reads a workbook SheetJS wrote (exceljs streaming cannot: the sheets come before workbook.xml in the zip)', async () => {
    const file = path.join(dir, 'sheetjs.xlsx');
    const workbook = XLSX.utils.book_new();
    const rows = [['a', 1, true], [null, 'b & c', new Date(Date.UTC(2019, 5, 30))], [], ['after a gap', -2.5]];
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows, { cellDates: true }), 'SheetJS');
    await writeFile(file, XLSX.write(workbook, { type: 'buffer', bookType: 'xlsx' }) as Buffer);
    expect(cellsOf(await readAll(file))).toEqual([
      [1, ['a', 1, true]],
      [2, [null, 'b & c', new Date(Date.UTC(2019, 5, 30))]],
      [4, ['after a gap', -2.5]],
    ]);
  });

  it('yields worksheets in workbook order whatever the zip order, and skips chart sheets', async () => {
    const file = await crafted('order.xlsx', {
      zipOrder: 'reversed',
      sheets: [
        { name: 'First &amp; foremost', xml: sheetXml('<row r="1"><c r="A1"><v>1</v></c></row>') },
        { name: 'Chart', xml: '<chartsheet/>', type: `${RELS_NS}/chartsheet` },
        { name: 'Last', xml: sheetXml('<row r="1"><c r="A1"><v>2</v></c></row>') },
      ],
    });
    const sheets = await readAll(file);
    expect(sheets.map((s) => s.name)).toEqual(['First & foremost', 'Last']);
    expect(sheets.map((s) => s.rows[0]!.cells)).toEqual([[1], [2]]);
  });

  it('reads prefixed elements, rows and cells without references, single quotes, comments and CDATA', async () => {
    const body = `<x:row><x:c t='inlineStr'><x:is><x:t><![CDATA[a < b]]></x:t></x:is></x:c><!-- a comment --><x:c><x:v>2</x:v></x:c></x:row>` + `<x:row r="4" spans="1:3"><x:c r="C4"><x:v>3</x:v></x:c><x:c><x:v>4</x:v></x:c></x:row>`;
    const file = await crafted('prefixed.xlsx', { sheets: [{ name: 'S', xml: sheetXml(body, 'x:') }] });
    expect(cellsOf(await readAll(file))).toEqual([
      [1, ['a < b', 2]],
      [4, [null, null, 3, 4]],
    ]);
  });

  it('joins the runs of an indented shared-string table, text after a phonetic guide included', async () => {
    const sharedStrings = '\n  <si>\n    <r><t>漢</t></r>\n    <rPh sb="0" eb="1"><t>かん</t></rPh>\n    <r><t>字</t></r>\n  </si>\n  <si><t>plain</t></si>\n';
    const file = await crafted('indented.xlsx', { sharedStrings, sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>') }] });
    expect(cellsOf(await readAll(file))).toEqual([[1, ['漢字', 'plain']]]);
  });

  it('joins rich-text runs of inline strings, leaves phonetic guides out, decodes _xHHHH_ escapes and normalises line ends', async () => {
    const file = await crafted('strings.xlsx', {
      sharedStrings: '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh></si><si><t>line_x000D_\nbreak, literal _x005F_x0041_</t></si><si><t/></si><si><t>a\r\nb&#13;c</t></si>',
      sheets: [
        {
          name: 'S',
          xml: sheetXml(
            '<row r="1"><c r="A1" t="inlineStr"><is><r><t xml:space="preserve">one </t></r><r><rPr><b/></rPr><t>two</t></r></is></c>' +
              '<c r="B1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c><c r="D1" t="s"><v>2</v></c><c r="E1" t="str"><f>A1</f><v>&amp;&#x41;&#66;</v></c><c r="F1" t="s"><v>3</v></c></row>',
          ),
        },
      ],
    });
    expect(cellsOf(await readAll(file))).toEqual([[1, ['one two', '漢字', 'line\r\nbreak, literal _x0041_', null, '&AB', 'a\nb\rc']]]);
  });

  it('tells dates from numbers by the cell style, in 1900 and 1904 workbooks, and reads ISO date cells', async () => {
    const styles =
      '<numFmts><numFmt numFmtId="164" formatCode="0&quot; days&quot;"/><numFmt numFmtId="165" formatCode="[$-809]dd\\ mmmm\\ yyyy"/></numFmts>' +
      '<cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="3"/></cellXfs>';
    const row = '<row r="1"><c r="A1"><v>43831</v></c><c r="B1" s="1"><v>43831</v></c><c r="C1" s="2"><v>43831</v></c><c r="D1" s="3"><v>43831.5</v></c><c r="E1" s="4"><v>43831</v></c><c r="F1" t="d"><v>2020-01-01T12:00:00</v></c><c r="G1" t="b"><v>0</v></c><c r="H1" t="e"><v>#DIV/0!</v></c></row>';
    const jan1 = new Date(Date.UTC(2020, 0, 1));
    const noon = new Date(Date.UTC(2020, 0, 1, 12));
    const in1900 = await crafted('dates-1900.xlsx', { styles, sheets: [{ name: 'S', xml: sheetXml(row) }] });
    expect(cellsOf(await readAll(in1900))).toEqual([[1, [43831, jan1, 43831, noon, 43831, noon, false]]]);
    const in1904 = await crafted('dates-1904.xlsx', { styles, workbookPr: '<workbookPr date1904="1"/>', sheets: [{ name: 'S', xml: sheetXml(row) }] });
    expect((await readAll(in1904))[0]!.rows[0]!.cells[1]).toEqual(new Date(Date.UTC(2024, 0, 2)));
  });

  it('fails with a data error naming the file on a truncated workbook or a missing shared string', async () => {
    const cut = path.join(dir, 'cut.xlsx');
    await writeWorkbook(cut, monthlySheets({ year: 2019 }));
    await truncate(cut, 2000);
    await expect(readAll(cut)).rejects.toThrow(DataError);
    await expect(readAll(cut)).rejects.toThrow(/cut\.xlsx: cannot read the workbook/);
    const dangling = await crafted('dangling.xlsx', { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" t="s"><v>7</v></c></row>') }] });
    await expect(readAll(dangling)).rejects.toThrow(/dangling\.xlsx, sheet "S": cannot read the sheet \(row 1: shared string 7 does not exist\)/);
  });
});

describe('date number formats', () => {
  it.each([
    ['d-mmm-yy', true],
    ['yyyy-mm-dd hh:mm', true],
    ['[h]:mm:ss', true],
    ['[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy', true],
    ['General', false],
    ['0.00', false],
    ['#,##0_);[Red](#,##0)', false],
    ['0" days"', false],
    ['\\d0', false],
    ['@', false],
  ])('%s is a date: %s', (code, isDate) => {
    expect(isDateFormatCode(code)).toBe(isDate);
  });
});

describe('the .xlsx reader on a workbook listing sheets by the thousand', () => {
  it('stops at 10,000 sheets with a data error instead of searching each', async () => {
    const file = path.join(dir, 'many-sheets.xlsx');
    await writeZip(file, {
      'xl/workbook.xml': { head: `<workbook xmlns:r="${RELS_NS}"><sheets>`, unit: '<sheet name="Figures for 2019" sheetId="1" r:id="rId1"/>', times: 10_001, tail: '</sheets></workbook>' },
    });
    await expect(readAll(file)).rejects.toThrow(/many-sheets\.xlsx, part xl\/workbook\.xml lists more than 10000 entries/);
  });
});

describe('the .xlsx reader on cells other writers write', () => {
  it('places cells by reference in any order, follows the previous cell or row where a reference is missing or unusable', async () => {
    const body =
      '<row r="2"><c r="C2"><v>3</v></c><c r="A2"><v>1</v></c><c><v>2</v></c></row>' +
      '<row r="0"><c r="b3" s="x"><v>4</v></c></row>' +
      '<row><c r="A4"><f>1+1</f><v>2</v></c><c r="B4"><v>5</v><extLst/></c></row>';
    expect(cellsOf(await readAll(await crafted('references.xlsx', { sheets: [{ name: 'S', xml: sheetXml(body) }] })))).toEqual([
      [2, [1, 2, 3]],
      [3, [4]],
      [4, [2, 5]],
    ]);
  });

  it('reads every kind of cell that follows a plain one in a row, wherever the inflated chunks end', async () => {
    // Rows of varying length, so the 64 KB chunk ends fall inside every part of them over 3,000 rows.
    const row = (r: number): string =>
      `<row r="${r}"><c r="A${r}"><v>${r}</v></c><c r="B${r}" t="s"><v>0</v></c><c r="C${r}"><f>1+1</f><v>2</v></c>` +
      `<c r="D${r}"><v>${r % 7}</v></c><c r="E${r}" t="inlineStr"><is><t>x${r}</t></is></c><c r="F${r}" s="0"/><c r="G${r}"><v>1.5</v></c>` +
      `<c><v>${'9'.repeat(r % 13)}</v></c><c r="J${r}" t="str"><v>a&amp;b</v></c></row>`;
    const rows = Array.from({ length: 3000 }, (_, i) => row(i + 1));
    const file = await crafted('cell-runs.xlsx', { sharedStrings: '<si><t>zero</t></si>', sheets: [{ name: 'S', xml: sheetXml(rows.join('')) }] });
    const expected = rows.map((_, i): [number, Cell[]] => {
      const r = i + 1;
      return [r, [r, 'zero', 2, r % 7, `x${r}`, null, 1.5, r % 13 === 0 ? null : Number('9'.repeat(r % 13)), null, 'a&b']];
    });
    expect(cellsOf(await readAll(file))).toEqual(expected);
  });

  it('reads empty values of every type as null, and ISO date cells with or without a zone', async () => {
    const body =
      '<row r="1"><c r="A1" t="b"><v></v></c><c r="B1" t="str"><v></v></c><c r="C1" t="s"><v></v></c><c r="D1" t="inlineStr"><is><t/></is></c><c r="E1"><v></v></c><c r="F1" t="d"/><c r="G1" t="e"><v>#REF!</v></c><c r="H1" t="b"><v>1</v></c>' +
      // Typed cells with no value at all (styled empty cells), and an empty date.
      '<c r="I1" t="s" s="0"/><c r="J1" t="str"/><c r="K1" t="b"/><c r="L1" t="d"><v></v></c><c r="M1" t="s"><v>0</v></c></row>' +
      '<row r="2"><c r="A2" t="d"><v>2020-01-31</v></c><c r="B2" t="d"><v>2020-01-31T12:00:00+02:00</v></c><c r="C2" t="d"><v>2020-01-31T12:00:00Z</v></c><c r="D2" t="d"><v>2020-01-31T12:00:00-0330</v></c></row>';
    expect(cellsOf(await readAll(await crafted('empty-kinds.xlsx', { sharedStrings: '<si><t>first</t></si>', sheets: [{ name: 'S', xml: sheetXml(body) }] })))).toEqual([
      [1, [null, null, null, null, null, null, null, true, null, null, null, null, 'first']],
      [2, [new Date(Date.UTC(2020, 0, 31)), new Date(Date.UTC(2020, 0, 31, 10)), new Date(Date.UTC(2020, 0, 31, 12)), new Date(Date.UTC(2020, 0, 31, 15, 30))]],
    ]);
  });

  it('reads a date cell without a zone as wall-clock time, whatever time zone etl runs in', async (context) => {
    const file = await crafted('wall-clock.xlsx', { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" t="d"><v>2020-01-31T12:00:00</v></c><c r="B1" t="d"><v>2020-01-31</v></c></row>') }] });
    const savedZone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      // A worker thread (Stryker's vitest runner uses them) keeps the process's zone: the test would prove nothing.
      if (new Date(2020, 0, 31).getTimezoneOffset() === 0) context.skip('the time zone cannot be changed in this worker thread');
      expect(cellsOf(await readAll(file))).toEqual([[1, [new Date(Date.UTC(2020, 0, 31, 12)), new Date(Date.UTC(2020, 0, 31))]]]);
    } finally {
      if (savedZone === undefined) delete process.env.TZ;
      else process.env.TZ = savedZone;
    }
  });

  it('reads rows and cells however the XML lays them out: indented, attributes in any order, unknown attributes, unusable row numbers', async () => {
    const body =
      '<row spans="1:2" s="3" customFormat="1" r="5" x14ac:dyDescent="0.25">\n  <c r="A5" t="str">\n    <v>text</v>\n  </c>\n' +
      '  <c tx="s" rr="D5" r="B5" sz="3"><v>2</v></c>\n</row>' +
      '<row r="x"><c r="A6"><v>6</v></c></row><row r="7.0"><c r="A7"><v>7</v></c></row><row r="+9"><c r="A8"><v>8</v></c></row>';
    expect(cellsOf(await readAll(await crafted('layout.xlsx', { sheets: [{ name: 'S', xml: sheetXml(body) }] })))).toEqual([
      [5, ['text', 2]],
      [6, [6]],
      [7, [7]],
      [8, [8]],
    ]);
  });

  it('refuses a number cell or a date cell holding text, naming the sheet and row', async () => {
    const number = await crafted('bad-number.xlsx', { sheets: [{ name: 'S', xml: sheetXml('<row r="3"><c r="B3"><v>12,5</v></c></row>') }] });
    await expect(readAll(number)).rejects.toThrow('bad-number.xlsx, sheet "S": cannot read the sheet (row 3: number cell holds "12,5")');
    const date = await crafted('bad-date.xlsx', { sheets: [{ name: 'S', xml: sheetXml('<row r="3"><c r="B3" t="d"><v>31/01/2020</v></c></row>') }] });
    await expect(readAll(date)).rejects.toThrow('bad-date.xlsx, sheet "S": cannot read the sheet (date cell holds "31/01/2020")');
  });

  it('stops at the end of the cells: what follows them is never read, even when cut off', async () => {
    const xml = sheetXml('<row r="1"><c r="A1"><v>1</v></c></row>').replace('</worksheet>', '<mergeCells><mergeCell ref="A1:B1"/></mergeCells><pageSetup paperSize="9"');
    expect(cellsOf(await readAll(await crafted('tail.xlsx', { sheets: [{ name: 'S', xml }] })))).toEqual([[1, [1]]]);
    // Cut off inside the cells, it is a damaged file.
    const cut = sheetXml('<row r="1"><c r="A1"><v>1</v></c></row>').replace('</sheetData></worksheet>', '<row r="2"><c r="A2"');
    await expect(readAll(await crafted('cut-sheet.xlsx', { sheets: [{ name: 'S', xml: cut }] }))).rejects.toThrow('cut-sheet.xlsx, sheet "S": cannot read the sheet (the XML ends inside a tag (truncated?))');
  });

  it('ignores number formats without a code, and styles outside cellXfs or without a format', async () => {
    const styles = '<numFmts><numFmt numFmtId="164"/><numFmt formatCode="yyyy"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs><xf/><xf numFmtId="164"/><xf numFmtId="22"/></cellXfs><dxfs><xf numFmtId="14"/></dxfs>';
    const row = '<row r="1"><c r="A1" s="0"><v>43831</v></c><c r="B1" s="1"><v>43831</v></c><c r="C1" s="2"><v>43831.25</v></c><c r="D1" s="3"><v>43831</v></c></row>';
    expect(cellsOf(await readAll(await crafted('styles.xlsx', { styles, sheets: [{ name: 'S', xml: sheetXml(row) }] })))).toEqual([[1, [43831, 43831, new Date(Date.UTC(2020, 0, 1, 6)), 43831]]]);
    const none = '<cellXfs count="0"/><xf numFmtId="14"/>';
    expect(cellsOf(await readAll(await crafted('no-xfs.xlsx', { styles: none, sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" s="0"><v>43831</v></c></row>') }] })))).toEqual([[1, [43831]]]);
  });
});

describe('the .xlsx reader on how packages are put together', () => {
  const PACKAGE_RELS = 'http://schemas.openxmlformats.org/package/2006/relationships';
  const rels = (items: string): string => `<Relationships xmlns="${PACKAGE_RELS}">${items}</Relationships>`;
  const rel = (id: string, type: string, target: string, extra = ''): string => `<Relationship Id="${id}" Type="${RELS_NS}/${type}" Target="${target}"${extra}/>`;
  const SHEET = sheetXml('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1</v></c></row>');
  const SST = '<sst><si><t>shared</t></si></sst>';

  async function zipped(name: string, members: Record<string, string>): Promise<ReadSheet[]> {
    const file = path.join(dir, name);
    await writeZip(file, members);
    return readAll(file);
  }

  it('finds the workbook where the package relationships point, its parts relative to it, whatever the r:id prefix', async () => {
    const sheets = await zipped('elsewhere.xlsx', {
      '_rels/.rels': rels(rel('rId1', 'officeDocument', '/book/main.xml')),
      'book/_rels/main.xml.rels': rels(rel('rId9', 'worksheet', 'sheets/one.xml') + rel('rId9', 'worksheet', 'sheets/missing.xml') + rel('rIdH', 'hyperlink', 'https://www.ons.gov.uk/', ' TargetMode="External"') + rel('rIdS', 'sharedStrings', '../book/strings.xml') + rel('rIdY', 'styles', 'styles.xml')),
      // Attributes in any order: r:id before sheetId and state.
      'book/main.xml': `<workbook xmlns:rel="${RELS_NS}"><workbookPr date1904="true"/><sheets><sheet name="One" rel:id="rId9" sheetId="1" state="visible"/><sheet name="Link" sheetId="2" rel:id="rIdH"/></sheets></workbook>`,
      'book/sheets/one.xml': SHEET.replace('</row>', '<c r="C1" s="1"><v>1</v></c></row>'),
      'book/strings.xml': SST,
      'book/styles.xml': '<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>',
    });
    // date1904="true": serial 1 is 2 January 1904.
    expect(sheets).toEqual([{ name: 'One', rows: [{ rowNumber: 1, cells: ['shared', 1, new Date(Date.UTC(1904, 0, 2))] }] }]);
  });

  it('without package relationships, takes xl/workbook.xml', async () => {
    const sheets = await zipped('no-root-rels.xlsx', {
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', 'worksheet', 'worksheets/sheet1.xml') + rel('rId2', 'sharedStrings', 'sharedStrings.xml')),
      'xl/workbook.xml': `<workbook xmlns:r="${RELS_NS}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
      'xl/worksheets/sheet1.xml': SHEET,
      'xl/sharedStrings.xml': SST,
    });
    expect(sheets).toEqual([{ name: 'S', rows: [{ rowNumber: 1, cells: ['shared', 1] }] }]);
  });

  it('a shared-string cell in a workbook without a shared-string table is an error naming the row', async () => {
    await expect(zipped('no-strings.xlsx', {
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', 'worksheet', 'worksheets/sheet1.xml')),
      'xl/workbook.xml': `<workbook xmlns:r="${RELS_NS}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
      'xl/worksheets/sheet1.xml': SHEET,
    })).rejects.toThrow('no-strings.xlsx, sheet "S": cannot read the sheet (row 1: shared string 0 does not exist)');
  });

  it('names the part that is missing: the workbook, or a sheet it lists', async () => {
    await expect(zipped('no-workbook.xlsx', { '_rels/.rels': rels(rel('rId1', 'officeDocument', 'xl/book.xml')) })).rejects.toThrow('no-workbook.xlsx: cannot read the workbook (the workbook part xl/book.xml is missing from the archive)');
    await expect(zipped('no-sheet.xlsx', {
      'xl/_rels/workbook.xml.rels': rels(rel('rId1', 'worksheet', 'worksheets/sheet1.xml')),
      'xl/workbook.xml': `<workbook xmlns:r="${RELS_NS}"><sheets><sheet name="Figures" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    })).rejects.toThrow('no-sheet.xlsx: cannot read the workbook (the sheet "Figures" part xl/worksheets/sheet1.xml is missing from the archive)');
  });
});
