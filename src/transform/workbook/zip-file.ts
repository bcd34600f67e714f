import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createInflateRaw } from 'node:zlib';
import { WorkbookLimitError } from './limits.js';

/** One member of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipFile {
  /** Looks a member up by name, ignoring case (OPC part names are case-insensitive). */
  entry(name: string): ZipEntry | undefined;
  /**
   * Streams a member's text (UTF-8, a character cut by a chunk end joined); reading fails if the member is
   * truncated or corrupt, or inflates past the limit given to openZip (a few KB of deflate can stand for
   * gigabytes). Leaving the loop early closes the member.
   */
  open(entry: ZipEntry): Promise<AsyncIterable<string>>;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;
/** The end record is 22 bytes plus a comment of at most 65,535. */
const MAX_EOCD_SEARCH = 22 + 0xffff;
const INFLATE_CHUNK = 64 * 1024;

/**
 * Random access to the members of a zip file through its central directory, so a reader can take
 * workbook.xml, styles and shared strings first and then only the sheet it wants, whatever their
 * order in the archive. Members are inflated as streams: a sheet is never held whole in memory.
 * No file handle stays open between calls, so a member can be opened whenever its reader gets to it.
 */
export async function openZip(file: string, maxEntryBytes = Infinity): Promise<ZipFile> {
  const entries = await withHandle(file, readCentralDirectory);
  const byName = new Map(entries.map((entry) => [entry.name.toLowerCase(), entry]));
  return {
    entry: (name) => byName.get(name.replace(/^\//, '').toLowerCase()),
    open: async (entry) => memberText(await openEntry(file, entry), maxEntryBytes, entry.name),
  };
}

/**
 * The member's bytes as text, counted as they come (not as the directory claims: the declared size may be a lie).
 * Decoded and counted here rather than by two more streams (a counting Transform, a decoding Readable): each stream
 * hop cost the main thread its own callbacks per 64 KB chunk.
 */
async function* memberText(bytes: Readable, maxBytes: number, name: string): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let seen = 0;
  // Leaving this loop early (an error, or the reader's own loop left) destroys the stream, which closes the file.
  for await (const chunk of bytes as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > maxBytes) throw new WorkbookLimitError(`part ${name} inflates to more than ${maxBytes} bytes`, 'partBytes');
    const text = decoder.write(chunk);
    if (text.length > 0) yield text;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

async function withHandle<T>(file: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  const handle = await open(file, 'r');
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

async function readCentralDirectory(handle: FileHandle): Promise<ZipEntry[]> {
  const { size: fileSize } = await handle.stat();
  const tailLength = Math.min(fileSize, MAX_EOCD_SEARCH);
  const tail = await readAt(handle, fileSize - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd === -1) throw new Error('no zip end-of-central-directory record (truncated?)');
  let count = tail.readUInt16LE(eocd + 10);
  let directorySize = tail.readUInt32LE(eocd + 12);
  let directoryOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR_SIGNATURE) throw new Error('zip64 archive without its locator');
    const record = await readAt(handle, Number(tail.readBigUInt64LE(locator + 8)), 56);
    if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new Error('bad zip64 end-of-central-directory record');
    count = Number(record.readBigUInt64LE(32));
    directorySize = Number(record.readBigUInt64LE(40));
    directoryOffset = Number(record.readBigUInt64LE(48));
  }
  if (directoryOffset + directorySize > fileSize) throw new Error('zip central directory lies beyond the end of the file (truncated?)');

  const directory = await readAt(handle, directoryOffset, directorySize);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error('corrupt zip central directory');
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const entry: ZipEntry = {
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      method: directory.readUInt16LE(at + 10),
      compressedSize: directory.readUInt32LE(at + 20),
      size: directory.readUInt32LE(at + 24),
      localHeaderOffset: directory.readUInt32LE(at + 42),
    };
    applyZip64Extra(entry, directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength));
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Sizes and offsets too large for 32 bits are 0xffffffff in the record and follow, in this order, in extra field 0x0001. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const next = (): number => {
        const value = Number(extra.readBigUInt64LE(field));
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
      return;
    }
    at += 4 + length;
  }
}

async function openEntry(file: string, entry: ZipEntry): Promise<Readable> {
  if (entry.method !== STORED && entry.method !== DEFLATED) throw new Error(`${entry.name}: unsupported zip compression method ${entry.method}`);
  const header = await withHandle(file, (handle) => readAt(handle, entry.localHeaderOffset, 30));
  if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error(`${entry.name}: bad zip local header`);
  const dataStart = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (entry.compressedSize === 0) return Readable.from([]);
  const raw = createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1, highWaterMark: INFLATE_CHUNK });
  if (entry.method === STORED) return raw;
  const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK });
  raw.on('error', (error) => inflate.destroy(error));
  // A member left part-way (the rest of a sheet after its table) closes the file too: pipe() leaves the source open.
  inflate.on('close', () => raw.destroy());
  return raw.pipe(inflate);
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead < length) throw new Error('unexpected end of the zip file (truncated?)');
  return buffer;
}
