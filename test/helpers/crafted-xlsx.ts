import { writeZip, type RepeatedText } from './zip-writer.js';

export const RELS_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const SHEET_TYPE = `${RELS_NS}/worksheet`;
const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';

export interface CraftedSheet {
  name: string;
  xml: string | RepeatedText;
  type?: string;
}

export interface CraftedParts {
  sheets: CraftedSheet[];
  /** The `<si>` items (the `<sst>` element around them is added). */
  sharedStrings?: string | RepeatedText;
  styles?: string;
  workbookPr?: string;
  zipOrder?: 'reversed';
}

/** An .xlsx from hand-written XML, for what no library writes but Excel, other tools or an attacker may. */
export async function craftXlsx(file: string, parts: CraftedParts): Promise<string> {
  const sheetEntries = parts.sheets.map((sheet, i) => ({ ...sheet, id: `rId${i + 1}`, path: `worksheets/sheet${i + 1}.xml` }));
  const sst = (items: string): string => `<sst xmlns="${MAIN_NS}">${items}</sst>`;
  const strings = parts.sharedStrings ?? '';
  const members: Record<string, string | RepeatedText> = {
    '_rels/.rels': `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${RELS_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    'xl/workbook.xml': `<workbook xmlns="${MAIN_NS}" xmlns:r="${RELS_NS}">${parts.workbookPr ?? ''}<sheets>${sheetEntries
      .map((sheet, i) => `<sheet name="${sheet.name}" sheetId="${i + 1}" r:id="${sheet.id}"/>`)
      .join('')}</sheets></workbook>`,
    'xl/_rels/workbook.xml.rels': `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheetEntries
      .map((sheet) => `<Relationship Id="${sheet.id}" Type="${sheet.type ?? SHEET_TYPE}" Target="${sheet.path}"/>`)
      .join('')}<Relationship Id="rIdS" Type="${RELS_NS}/sharedStrings" Target="/xl/sharedStrings.xml"/><Relationship Id="rIdY" Type="${RELS_NS}/styles" Target="styles.xml"/></Relationships>`,
    'xl/sharedStrings.xml': typeof strings === 'string' ? sst(strings) : { ...strings, head: sst('').replace('</sst>', '') + strings.head, tail: `${strings.tail}</sst>` },
    'xl/styles.xml': `<styleSheet xmlns="${MAIN_NS}">${parts.styles ?? '<cellXfs count="1"><xf numFmtId="0"/></cellXfs>'}</styleSheet>`,
  };
  const sheetMembers = sheetEntries.map((sheet) => [`xl/${sheet.path}`, sheet.xml] as const);
  if (parts.zipOrder === 'reversed') sheetMembers.reverse();
  await writeZip(file, { ...Object.fromEntries(sheetMembers), ...members });
  return file;
}

const SHEET_HEAD = (prefix: string): string =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<${prefix}worksheet xmlns${prefix ? `:${prefix.slice(0, -1)}` : ''}="${MAIN_NS}"><${prefix}sheetData>`;
const SHEET_TAIL = (prefix: string): string => `</${prefix}sheetData></${prefix}worksheet>`;

/** A worksheet part holding these rows. */
export const sheetXml = (body: string, prefix = ''): string => `${SHEET_HEAD(prefix)}${body}${SHEET_TAIL(prefix)}`;

/** A worksheet part whose rows expand: `head` rows, `unit` repeated `times`, then `tail` rows. */
export const repeatedSheetXml = (head: string, unit: string, times: number, tail = ''): RepeatedText => ({
  head: SHEET_HEAD('') + head,
  unit,
  times,
  tail: tail + SHEET_TAIL(''),
});
