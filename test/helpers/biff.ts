import { readFile, writeFile } from 'node:fs/promises';
import * as XLSX from '@e965/xlsx';

/** One BIFF record of an .xls Workbook stream; `from` is where it stood before a rewrite (undefined for a new one). */
export interface BiffRecord {
  type: number;
  body: Buffer;
  from?: number;
}

export const biffRecord = (type: number, body: Buffer): BiffRecord => ({ type, body });

/**
 * Rewrites the BIFF records of an .xls file (as SheetJS or Excel wrote it) in place. BOUNDSHEET records point at
 * their sheet's BOF by stream offset: they are moved along with the records the rewrite grew or shrank.
 */
export async function rewriteBiff(file: string, rewrite: (records: BiffRecord[]) => BiffRecord[]): Promise<void> {
  const container = XLSX.CFB.read(await readFile(file), { type: 'buffer' });
  const stream = Buffer.from(XLSX.CFB.find(container, 'Workbook')!.content as Uint8Array);
  const records: BiffRecord[] = [];
  for (let at = 0; at + 4 <= stream.length; at += 4 + stream.readUInt16LE(at + 2)) {
    records.push({ type: stream.readUInt16LE(at), body: Buffer.from(stream.subarray(at + 4, at + 4 + stream.readUInt16LE(at + 2))), from: at });
  }
  const rewritten = rewrite(records);
  const moved = new Map<number, number>();
  let at = 0;
  for (const record of rewritten) {
    if (record.from !== undefined) moved.set(record.from, at);
    at += 4 + record.body.length;
  }
  const bytes = rewritten.map((record) => {
    const body = Buffer.from(record.body);
    if (record.type === 0x0085) body.writeUInt32LE(moved.get(body.readUInt32LE(0)) ?? body.readUInt32LE(0), 0);
    const header = Buffer.alloc(4);
    header.writeUInt16LE(record.type, 0);
    header.writeUInt16LE(body.length, 2);
    return Buffer.concat([header, body]);
  });
  XLSX.CFB.utils.cfb_del(container, '/Workbook');
  XLSX.CFB.utils.cfb_add(container, '/Workbook', Buffer.concat(bytes));
  await writeFile(file, XLSX.CFB.write(container, { type: 'buffer' }) as Buffer);
}

const LABEL = 0x0204;
const LABELSST = 0x00fd;
const SST = 0x00fc;

/**
 * SheetJS writes text as LABEL records; Excel keeps it in the shared-string table (SST) and points at it with
 * LABELSST. Rewrites a SheetJS .xls into Excel's form (Latin-1 strings).
 */
export function toSharedStrings(records: BiffRecord[]): BiffRecord[] {
  const strings: string[] = [];
  const cells = records.map((record) => {
    if (record.type !== LABEL) return record;
    const wide = (record.body[8]! & 0x01) !== 0;
    const text = record.body.toString(wide ? 'utf16le' : 'latin1', 9, 9 + record.body.readUInt16LE(6) * (wide ? 2 : 1));
    const body = Buffer.alloc(10);
    record.body.copy(body, 0, 0, 6); // row, column, XF
    body.writeUInt32LE(strings.push(text) - 1, 6);
    return { ...record, type: LABELSST, body };
  });
  const table = Buffer.concat([
    Buffer.from(new Uint32Array([strings.length, strings.length]).buffer),
    ...strings.map((text) => Buffer.concat([Buffer.from([text.length & 0xff, text.length >> 8, 0]), Buffer.from(text, 'latin1')])),
  ]);
  return cells.map((record) => (record.type === SST ? { ...record, body: table } : record));
}
