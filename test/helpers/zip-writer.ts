import { writeFile } from 'node:fs/promises';
import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * Text that inflates far beyond its file size: `head`, then `unit` `times` times, then `tail`. The
 * repeated part is deflated once per 1 MiB block and the block's bytes repeated (each block ends on a
 * full flush, so blocks stand alone), so gigabytes cost milliseconds and a few MB of zip. Its CRC is
 * left 0: nothing reads it, and a crafted file may lie anyway.
 */
export interface RepeatedText {
  head: string;
  unit: string;
  times: number;
  tail: string;
}

const BLOCK_BYTES = 1024 * 1024;

/**
 * Writes a zip of the given members (deflated), in the given order: enough to hand-craft .xlsx files
 * whose XML no spreadsheet library would write (prefixed elements, cells without references, ...).
 */
export async function writeZip(file: string, members: Record<string, string | Uint8Array | RepeatedText>): Promise<void> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(members)) {
    const { compressed, size, crc } = deflateMember(content);
    const nameBytes = Buffer.from(name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, compressed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(members).length, 8);
  end.writeUInt16LE(Object.keys(members).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  await writeFile(file, Buffer.concat([...locals, directory, end]));
}

function deflateMember(content: string | Uint8Array | RepeatedText): { compressed: Buffer; size: number; crc: number } {
  if (typeof content === 'string' || content instanceof Uint8Array) {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    return { compressed: deflateRawSync(data), size: data.length, crc: crc32(data) };
  }
  const flushed = (text: string): Buffer => deflateRawSync(Buffer.from(text, 'utf8'), { finishFlush: constants.Z_FULL_FLUSH });
  const unitBytes = Buffer.byteLength(content.unit, 'utf8');
  const perBlock = Math.max(1, Math.floor(BLOCK_BYTES / unitBytes));
  const block = flushed(content.unit.repeat(Math.min(perBlock, content.times)));
  const pieces = [flushed(content.head)];
  for (let left = content.times; left > 0; left -= perBlock) pieces.push(left >= perBlock ? block : flushed(content.unit.repeat(left)));
  pieces.push(deflateRawSync(Buffer.from(content.tail, 'utf8')));
  const size = Buffer.byteLength(content.head) + unitBytes * content.times + Buffer.byteLength(content.tail);
  // The 32-bit size field: a larger member would need zip64, which the crafted files here do not use.
  return { compressed: Buffer.concat(pieces), size: Math.min(size, 0xfffffffe), crc: 0 };
}
