/**
 * The byte-level pieces of a parquet file that parquet-file.ts writes: a growable byte buffer, the Thrift
 * compact protocol (page headers and the footer), the RLE/bit-packing hybrid (definition levels and
 * dictionary indices) and PLAIN values.
 */

/** A growable byte buffer. */
export class Bytes {
  private buffer: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.buffer = new Uint8Array(capacity);
  }

  /** The bytes written, as a Buffer over the same memory (valid until the next write). */
  view(): Buffer {
    return Buffer.from(this.buffer.buffer, this.buffer.byteOffset, this.length);
  }

  /** Room for `bytes` more; returns the array to write into at `this.length`. */
  reserve(bytes: number): Uint8Array {
    if (this.length + bytes > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    return this.buffer;
  }

  byte(value: number): void {
    this.reserve(1)[this.length++] = value;
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Unsigned LEB128 for numbers up to 2^53 (file offsets), without 32-bit bit operations. */
  varint(value: number): void {
    while (value >= 0x80) {
      this.byte((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.byte(value);
  }

  u32le(value: number): void {
    const buffer = this.reserve(4);
    buffer[this.length] = value & 0xff;
    buffer[this.length + 1] = (value >>> 8) & 0xff;
    buffer[this.length + 2] = (value >>> 16) & 0xff;
    buffer[this.length + 3] = (value >>> 24) & 0xff;
    this.length += 4;
  }
}

const THRIFT_BOOL_TRUE = 1;
const THRIFT_BOOL_FALSE = 2;
const THRIFT_I8 = 3;
const THRIFT_I32 = 5;
const THRIFT_I64 = 6;
const THRIFT_BINARY = 8;
const THRIFT_LIST = 9;
const THRIFT_STRUCT = 12;

/** Thrift compact protocol, the parts parquet's page headers and footer need. */
export class ThriftWriter {
  readonly out = new Bytes();
  private readonly lastField: number[] = [];

  struct(fields: () => void): void {
    this.lastField.push(0);
    fields();
    this.out.byte(0); // stop
    this.lastField.pop();
  }

  structField(id: number, fields: () => void): void {
    this.field(id, THRIFT_STRUCT);
    this.struct(fields);
  }

  bool(id: number, value: boolean): void {
    this.field(id, value ? THRIFT_BOOL_TRUE : THRIFT_BOOL_FALSE);
  }

  i8(id: number, value: number): void {
    this.field(id, THRIFT_I8);
    this.out.byte(value & 0xff);
  }

  i32(id: number, value: number): void {
    this.field(id, THRIFT_I32);
    this.out.varint(zigzag(value));
  }

  i64(id: number, value: number): void {
    this.field(id, THRIFT_I64);
    this.out.varint(zigzag(value));
  }

  binary(id: number, value: string | Uint8Array): void {
    this.field(id, THRIFT_BINARY);
    this.rawBinary(value);
  }

  /** A list of `size` elements; `element(i)` writes element i (a struct's fields, or one listI32/listBinary). */
  list(id: number, elementType: 'struct' | 'i32' | 'binary', size: number, element: (i: number) => void): void {
    this.field(id, THRIFT_LIST);
    const type = elementType === 'struct' ? THRIFT_STRUCT : elementType === 'i32' ? THRIFT_I32 : THRIFT_BINARY;
    if (size < 15) this.out.byte((size << 4) | type);
    else {
      this.out.byte(0xf0 | type);
      this.out.varint(size);
    }
    for (let i = 0; i < size; i++) {
      if (type === THRIFT_STRUCT) this.struct(() => element(i));
      else element(i);
    }
  }

  listI32(value: number): void {
    this.out.varint(zigzag(value));
  }

  listBinary(value: string): void {
    this.rawBinary(value);
  }

  private rawBinary(value: string | Uint8Array): void {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.out.varint(bytes.length);
    this.out.append(bytes);
  }

  private field(id: number, type: number): void {
    const last = this.lastField[this.lastField.length - 1]!;
    const delta = id - last;
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.out.varint(zigzag(id));
    }
    this.lastField[this.lastField.length - 1] = id;
  }
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/**
 * The RLE/bit-packing hybrid of `count` values of `width` bits (1 to 24): runs of 8 or more equal values
 * as RLE runs, the rest bit-packed in groups of 8 (the last group padded with zeros). ONS rows repeat an
 * area's code and name on 12 month rows: those become one short RLE run each.
 */
export function encodeHybrid(values: ArrayLike<number>, count: number, width: number, out: Bytes): void {
  const valueBytes = (width + 7) >> 3;
  /** Whether values[at..at+8) are all equal (a run worth RLE-encoding starts there). */
  const runAt = (at: number): boolean => {
    if (at + 8 > count) return false;
    const first = values[at]!;
    for (let k = 1; k < 8; k++) if (values[at + k] !== first) return false;
    return true;
  };
  let i = 0;
  while (i < count) {
    const first = values[i]!;
    let run = 1;
    while (i + run < count && values[i + run] === first) run++;
    if (run >= 8) {
      out.varint(run * 2);
      for (let b = 0; b < valueBytes; b++) out.byte((first >>> (8 * b)) & 0xff);
      i += run;
      continue;
    }
    let end = i + 8;
    while (end < count && !runAt(end)) end += 8;
    const groups = Math.ceil((Math.min(end, count) - i) / 8);
    out.varint(groups * 2 + 1);
    bitPack(values, i, Math.min(end, count), groups * 8, width, out);
    i = end;
  }
}

/** values[from..to) packed `width` bits each, least significant bit first, padded with zeros to `slots` values. */
function bitPack(values: ArrayLike<number>, from: number, to: number, slots: number, width: number, out: Bytes): void {
  const bytes = (slots * width) / 8;
  const buffer = out.reserve(bytes);
  let at = out.length;
  // Fewer than 8 bits wait in `pending` between values; with width <= 24 the sum stays within 32 bits.
  let pending = 0;
  let bits = 0;
  for (let i = from; i < to; i++) {
    pending |= values[i]! << bits;
    bits += width;
    while (bits >= 8) {
      buffer[at++] = pending & 0xff;
      pending >>>= 8;
      bits -= 8;
    }
  }
  const end = out.length + bytes;
  if (bits > 0) buffer[at++] = pending & 0xff;
  buffer.fill(0, at, end);
  out.length = end;
}

/** Bits needed to write indices below `size` (at least 1). */
export function bitWidth(size: number): number {
  let width = 1;
  while (size - 1 >= 2 ** width) width++;
  return width;
}

/**
 * PLAIN BYTE_ARRAY values: each a 4-byte length and its UTF-8 bytes. One native UTF-8 conversion of the
 * joined text; per-value byte lengths are needed only when the text is not ASCII. Returns whether it was.
 */
export function plainStrings(strings: readonly string[], out: Bytes): boolean {
  const joined = strings.join('');
  const utf8 = Buffer.from(joined, 'utf8');
  const ascii = utf8.length === joined.length;
  const buffer = out.reserve(utf8.length + 4 * strings.length);
  let at = out.length;
  let from = 0;
  for (let i = 0; i < strings.length; i++) {
    const text = strings[i]!;
    const size = ascii ? text.length : Buffer.byteLength(text, 'utf8');
    buffer[at] = size & 0xff;
    buffer[at + 1] = (size >>> 8) & 0xff;
    buffer[at + 2] = (size >>> 16) & 0xff;
    buffer[at + 3] = (size >>> 24) & 0xff;
    at += 4;
    if (size < 32) for (let b = 0; b < size; b++) buffer[at + b] = utf8[from + b]!;
    else utf8.copy(buffer, at, from, from + size);
    at += size;
    from += size;
  }
  out.length = at;
  return ascii;
}

/**
 * UTF-8 byte order of two strings (how parquet orders BYTE_ARRAY statistics). UTF-16 code-unit order
 * agrees except where a surrogate (a character past U+FFFF) meets a character from U+E000 to U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && (xSurrogate ? y : x) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
