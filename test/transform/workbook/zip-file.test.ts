import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { WorkbookLimitError } from '../../../src/transform/workbook/limits.js';
import { readWorkbook } from '../../../src/transform/workbook/workbook.js';
import { openZip } from '../../../src/transform/workbook/zip-file.js';
import { craftXlsx, sheetXml } from '../../helpers/crafted-xlsx.js';
import { sheetRows } from '../../helpers/sheet-rows.js';

/**
 * The zip layer under the .xlsx reader, on archives as other writers make them: stored (uncompressed) members, an
 * archive comment, zip64 records (streaming writers that do not know sizes in advance), and on damaged ones.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Member {
  name: string;
  data: string;
  method?: 0 | 8 | 12;
  /** Sizes and offset (or the offset alone) as 0xffffffff in the central record, the real ones in a zip64 extra field. */
  zip64?: boolean | 'offset';
  /** What the central directory claims the member inflates to (a crafted file may lie). */
  declaredSize?: number;
}

interface ArchiveOptions {
  comment?: string;
  /** zip64 end records (and 0xffff / 0xffffffff in the classic one, or only in the field that overflowed). */
  zip64End?: boolean | 'no locator' | 'bad record' | 'count' | 'size' | 'offset';
  /** Members the end record claims (a damaged directory). */
  claimedCount?: number;
  /** Bytes in front of every local header offset (a damaged directory). */
  offsetShift?: number;
  centralSignature?: number;
}

function archive(members: Member[], options: ArchiveOptions = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const member of members) {
    const method = member.method ?? 8;
    const raw = Buffer.from(member.data, 'utf8');
    const stored = method === 8 ? deflateRawSync(raw) : raw;
    const name = Buffer.from(member.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    // Only the fields that overflowed follow, in this order: size, compressed size, offset.
    const wide = member.zip64 === 'offset' ? [BigInt(offset)] : member.zip64 ? [BigInt(member.declaredSize ?? raw.length), BigInt(stored.length), BigInt(offset)] : [];
    const extra = Buffer.alloc(wide.length > 0 ? 4 + 8 * wide.length : 0);
    if (wide.length > 0) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8 * wide.length, 2);
      wide.forEach((value, i) => extra.writeBigUInt64LE(value, 4 + 8 * i));
    }
    const allWide = member.zip64 === true;
    // An unrelated extra field first, as writers add timestamps (0x5455) before zip64 data.
    const timestamp = Buffer.from([0x55, 0x54, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(options.centralSignature ?? 0x02014b50, 0);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(allWide ? 0xffffffff : stored.length, 20);
    central.writeUInt32LE(allWide ? 0xffffffff : member.declaredSize ?? raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(timestamp.length + extra.length, 30);
    central.writeUInt16LE(member.name.endsWith('.rels') ? 7 : 0, 32);
    central.writeUInt32LE(member.zip64 ? 0xffffffff : offset + (options.offsetShift ?? 0), 42);
    locals.push(local, name, stored);
    centrals.push(central, name, timestamp, extra, member.name.endsWith('.rels') ? Buffer.from('comment') : Buffer.alloc(0));
    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const comment = Buffer.from(options.comment ?? '', 'utf8');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  const zip64 = options.zip64End !== undefined && options.zip64End !== false;
  const marked = (field: 'count' | 'size' | 'offset'): boolean => zip64 && (typeof options.zip64End !== 'string' || !['count', 'size', 'offset'].includes(options.zip64End) || options.zip64End === field);
  end.writeUInt16LE(marked('count') ? 0xffff : options.claimedCount ?? members.length, 8);
  end.writeUInt16LE(marked('count') ? 0xffff : options.claimedCount ?? members.length, 10);
  end.writeUInt32LE(marked('size') ? 0xffffffff : directory.length, 12);
  end.writeUInt32LE(marked('offset') ? 0xffffffff : offset, 16);
  end.writeUInt16LE(comment.length, 20);
  const records: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(options.zip64End === 'bad record' ? 0x06064b51 : 0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(BigInt(members.length), 24);
    record.writeBigUInt64LE(BigInt(members.length), 32);
    record.writeBigUInt64LE(BigInt(directory.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(options.zip64End === 'no locator' ? 0 : 0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
    records.push(record, locator);
  }
  return Buffer.concat([...locals, directory, ...records, end, comment]);
}

async function save(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

const MEMBERS: Member[] = [
  { name: 'xl/worksheets/sheet1.xml', data: '<worksheet>stored</worksheet>', method: 0 },
  { name: 'xl/_rels/workbook.xml.rels', data: '<Relationships/>' },
  { name: 'xl/empty.xml', data: '', method: 0 },
];

async function contents(file: string, maxEntryBytes?: number): Promise<Record<string, string>> {
  const zip = await openZip(file, maxEntryBytes);
  const read: Record<string, string> = {};
  for (const name of ['/XL/Worksheets/Sheet1.xml', 'xl/_rels/workbook.xml.rels', 'xl/empty.xml']) {
    const entry = zip.entry(name);
    read[name] = entry ? await text(await zip.open(entry)) : 'missing';
  }
  return read;
}

/** This process's open file descriptors on `file` (Linux's /proc). */
function openDescriptors(file: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // closed while listed
    }
  }).length;
}

const EXPECTED = { '/XL/Worksheets/Sheet1.xml': '<worksheet>stored</worksheet>', 'xl/_rels/workbook.xml.rels': '<Relationships/>', 'xl/empty.xml': '' };

describe('openZip', () => {
  it('finds members by name whatever the case or a leading slash, stored or deflated, behind an archive comment', async () => {
    const file = await save('plain.zip', archive(MEMBERS, { comment: 'written by a tool that signs its archives' }));
    expect(await contents(file)).toEqual(EXPECTED);
    expect((await openZip(file)).entry('xl/workbook.xml')).toBeUndefined();
  });

  it.each([
    ['every field', true, true],
    ['the member count alone', 'count', 'offset'],
    ['the directory size alone', 'size', true],
    ['the directory offset alone', 'offset', 'offset'],
  ] as const)('reads zip64 end records and zip64 sizes and offsets (%s marked as overflowed)', async (_what, zip64End, zip64) => {
    const file = await save('zip64.zip', archive(MEMBERS.map((member) => ({ ...member, zip64 })), { zip64End }));
    expect(await contents(file)).toEqual(EXPECTED);
  });

  it('an archive with no members has none', async () => {
    const zip = await openZip(await save('empty.zip', archive([])));
    expect(zip.entry('xl/workbook.xml')).toBeUndefined();
  });

  it('refuses a member that inflates past the limit, counting what it reads rather than what the directory claims', async () => {
    const lying = archive([{ name: 'xl/worksheets/sheet1.xml', data: 'x'.repeat(1000), declaredSize: 10 }]);
    const zip = await openZip(await save('lying.zip', lying), 999);
    const stream = await zip.open(zip.entry('xl/worksheets/sheet1.xml')!);
    await expect(text(stream)).rejects.toThrow(new WorkbookLimitError('part xl/worksheets/sheet1.xml inflates to more than 999 bytes', 'partBytes'));
    const exactly = await openZip(await save('exact.zip', lying), 1000);
    expect(await text(await exactly.open(exactly.entry('xl/worksheets/sheet1.xml')!))).toHaveLength(1000);
  });

  it('closes the archive when the reader stops part-way (the rest of a sheet after its table is never read)', async () => {
    // Random text compresses badly, so the member spans many reads and its file stays open while it is read.
    const file = await save('long.zip', archive([{ name: 'xl/worksheets/sheet1.xml', data: randomBytes(1024 * 1024).toString('hex') }]));
    const zip = await openZip(file);
    let chunks = 0;
    for await (const chunk of await zip.open(zip.entry('xl/worksheets/sheet1.xml')!)) {
      expect(openDescriptors(file)).toBe(1);
      if (chunk.length > 0 && ++chunks === 2) break;
    }
    for (let wait = 0; wait < 100 && openDescriptors(file) > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(openDescriptors(file)).toBe(0);
  });

  it.each([
    ['not a zip at all', () => Buffer.from('PK\u0003\u0004 and then nothing a zip needs'.repeat(3)), 'no zip end-of-central-directory record (truncated?)'],
    ['a directory past the end', () => archive(MEMBERS).subarray(60), 'zip central directory lies beyond the end of the file (truncated?)'],
    ['zip64 without its locator', () => archive(MEMBERS, { zip64End: 'no locator' }), 'zip64 archive without its locator'],
    ['a damaged zip64 record', () => archive(MEMBERS, { zip64End: 'bad record' }), 'bad zip64 end-of-central-directory record'],
    ['a damaged directory entry', () => archive(MEMBERS, { centralSignature: 0x02014b51 }), 'corrupt zip central directory'],
    ['a directory that lists more members than it holds', () => archive(MEMBERS, { claimedCount: 4 }), 'corrupt zip central directory'],
    ['zip64 marks with nothing before them', () => archive([], { zip64End: 'count' }).subarray(76), 'zip64 archive without its locator'],
  ])('refuses %s', async (_what, bytes, message) => {
    await expect(openZip(await save('damaged.zip', bytes()))).rejects.toThrow(message);
  });

  it('refuses members it cannot inflate or find, naming them', async () => {
    const bzip2 = await openZip(await save('bzip2.zip', archive([{ name: 'xl/workbook.xml', data: 'x', method: 12 }])));
    await expect(bzip2.open(bzip2.entry('xl/workbook.xml')!)).rejects.toThrow('xl/workbook.xml: unsupported zip compression method 12');
    const shifted = await openZip(await save('shifted.zip', archive(MEMBERS, { offsetShift: 3 })));
    await expect(shifted.open(shifted.entry('xl/empty.xml')!)).rejects.toThrow('xl/empty.xml: bad zip local header');
    const pastTheEnd = await openZip(await save('past-end.zip', archive(MEMBERS, { offsetShift: 100_000 })));
    await expect(pastTheEnd.open(pastTheEnd.entry('xl/empty.xml')!)).rejects.toThrow('unexpected end of the zip file (truncated?)');
  });
});

describe('an .xlsx whose members are stored, not deflated', () => {
  it('reads as any other', async () => {
    const file = await craftXlsx(path.join(dir, 'deflated.xlsx'), { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1"><v>1.5</v></c></row>') }] });
    // Re-pack the crafted workbook with every member stored.
    const bytes = await readFile(file);
    const members: Member[] = [];
    const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    for (let at = bytes.readUInt32LE(eocd + 16), n = bytes.readUInt16LE(eocd + 10); n > 0; n--) {
      const nameLength = bytes.readUInt16LE(at + 28);
      const local = bytes.readUInt32LE(at + 42);
      const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
      members.push({ name: bytes.toString('utf8', at + 46, at + 46 + nameLength), data: inflateRawSync(bytes.subarray(start, start + bytes.readUInt32LE(at + 20))).toString('utf8'), method: 0 });
      at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
    }
    const stored = await save('stored.xlsx', archive(members));
    const rows = [];
    for await (const sheet of readWorkbook(stored)) for await (const row of sheetRows(sheet)) rows.push([sheet.name, row.rowNumber, row.cells]);
    expect(rows).toEqual([['S', 1, [1.5]]]);
    await expect((async () => {
      for await (const sheet of readWorkbook(await save('cut.xlsx', archive(members).subarray(0, 200)))) void sheet;
    })()).rejects.toThrow(DataError);
  });
});
