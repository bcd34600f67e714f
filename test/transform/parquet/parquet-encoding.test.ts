import { describe, expect, it } from 'vitest';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';
import { Bytes, ThriftWriter, bitWidth, compareUtf8, encodeHybrid, plainStrings } from '../../../src/transform/parquet/parquet-encoding.js';

/**
 * The byte-level pieces of the parquet writer, each checked against hyparquet's own decoders (an
 * independent implementation of the same specs) and, where the spec fixes the bytes, against the bytes.
 */

const reader = (bytes: Uint8Array) => ({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 });

function decodeHybrid(bytes: Uint8Array, width: number, count: number): number[] {
  const output = new Array<number>(count).fill(-1);
  readRleBitPackedHybrid(reader(bytes), width, output, bytes.length);
  return output;
}

function hybrid(values: number[], width: number): Uint8Array {
  const out = new Bytes(1);
  encodeHybrid(values, values.length, width, out);
  return Uint8Array.from(out.view());
}

describe('Bytes', () => {
  it('grows past its capacity keeping what was written, and writes little-endian u32 and LEB128 varints', () => {
    const bytes = new Bytes(2);
    bytes.byte(7);
    bytes.append(Uint8Array.of(1, 2, 3));
    bytes.u32le(0xdeadbeef);
    bytes.varint(300);
    bytes.varint(2 ** 40 + 5);
    bytes.varint(0x7f);
    const big = new Uint8Array(1000).fill(9);
    bytes.append(big);
    const view = bytes.view();
    expect([...view.subarray(0, 10)]).toEqual([7, 1, 2, 3, 0xef, 0xbe, 0xad, 0xde, 0xac, 0x02]);
    // 2^40 + 5 in 7-bit groups, lowest first: 5, then zeros, then 2^40 = 2^(7*5) * 2^5 → 0x20 in the sixth group.
    expect([...view.subarray(10, 16)]).toEqual([0x85, 0x80, 0x80, 0x80, 0x80, 0x20]);
    expect(view[16]).toBe(0x7f);
    expect(view.length).toBe(17 + 1000);
    expect(view.subarray(17).every((b) => b === 9)).toBe(true);
  });
});

describe('ThriftWriter (compact protocol)', () => {
  it('writes structs hyparquet decodes: short and long field deltas, negative and large integers, bools, bytes, lists short and long, nested structs', () => {
    const thrift = new ThriftWriter();
    const texts = Array.from({ length: 20 }, (_, i) => `t${i}é`);
    thrift.struct(() => {
      thrift.i32(1, -1);
      thrift.i32(2, 2_147_483_647);
      thrift.i64(3, -(2 ** 40));
      thrift.i64(4, 2 ** 52 + 1);
      thrift.bool(5, true);
      thrift.bool(6, false);
      thrift.i8(7, 200);
      thrift.binary(8, 'héllo');
      thrift.binary(9, Uint8Array.of(0, 255));
      // A jump of 21 does not fit the 4-bit delta: the id is written whole.
      thrift.i32(30, 5);
      // Going back also needs the whole id.
      thrift.i32(10, 6);
      thrift.structField(11, () => {
        thrift.i32(1, 7);
        thrift.structField(3, () => thrift.i32(2, 8));
      });
      thrift.i32(12, 9);
      thrift.list(13, 'i32', 3, (i) => thrift.listI32(i - 1));
      thrift.list(14, 'i32', 15, (i) => thrift.listI32(i * 1000));
      thrift.list(15, 'binary', texts.length, (i) => thrift.listBinary(texts[i]!));
      thrift.list(16, 'struct', 2, (i) => thrift.i32(1, i + 100));
      thrift.list(17, 'struct', 0, () => undefined);
    });
    const bytes = Uint8Array.from(thrift.out.view());
    const decoded = deserializeTCompactProtocol(reader(bytes));
    const text = (value: unknown) => new TextDecoder().decode(value as Uint8Array);
    expect(decoded.field_1).toBe(-1);
    expect(decoded.field_2).toBe(2_147_483_647);
    expect(decoded.field_3).toBe(-(2n ** 40n));
    expect(decoded.field_4).toBe(2n ** 52n + 1n);
    expect(decoded.field_5).toBe(true);
    expect(decoded.field_6).toBe(false);
    expect(decoded.field_7).toBe(-56); // 200 as a signed byte
    expect(text(decoded.field_8)).toBe('héllo');
    expect([...(decoded.field_9 as Uint8Array)]).toEqual([0, 255]);
    expect(decoded.field_30).toBe(5);
    expect(decoded.field_10).toBe(6);
    expect(decoded.field_11).toEqual({ field_1: 7, field_3: { field_2: 8 } });
    expect(decoded.field_12).toBe(9);
    expect(decoded.field_13).toEqual([-1, 0, 1]);
    expect(decoded.field_14).toEqual(Array.from({ length: 15 }, (_, i) => i * 1000));
    expect((decoded.field_15 as Uint8Array[]).map(text)).toEqual(texts);
    expect(decoded.field_16).toEqual([{ field_1: 100 }, { field_1: 101 }]);
    expect(decoded.field_17).toEqual([]);
    // The whole struct was read: the stop byte is the last one.
    expect(bytes.at(-1)).toBe(0);
  });

  it('writes the bytes the spec gives: (delta << 4) | type, zigzag varints, a list header of size and type', () => {
    const thrift = new ThriftWriter();
    thrift.struct(() => {
      thrift.i32(1, 1);
      thrift.i32(17, -3);
      thrift.list(18, 'binary', 1, () => thrift.listBinary('a'));
      thrift.bool(19, true);
      thrift.bool(20, false);
    });
    // i32 type 5, delta 1: 0x15, zigzag(1) = 2; field 17: delta 16, so type byte 0x05 and zigzag(17) = 34, zigzag(-3) = 5;
    // list type 9 delta 1: 0x19, one binary (8): 0x18, length 1, 'a'; bool true 1, false 2; stop.
    expect([...thrift.out.view()]).toEqual([0x15, 2, 0x05, 34, 5, 0x19, 0x18, 1, 0x61, 0x11, 0x12, 0]);
  });
});

describe('encodeHybrid (RLE/bit-packing hybrid)', () => {
  it('writes runs of 8 or more as RLE runs and the rest bit-packed in groups of 8, as the spec lays them out', () => {
    // Eight equal values: one RLE run (header 8 << 1, then the value in one byte).
    expect([...hybrid([1, 1, 1, 1, 1, 1, 1, 1], 1)]).toEqual([16, 1]);
    // Seven: one bit-packed group (header 1 << 1 | 1), padded with a zero bit.
    expect([...hybrid([1, 1, 1, 1, 1, 1, 1], 1)]).toEqual([3, 0b0111_1111]);
    // Three bits each, least significant first, across byte boundaries: 0..7 → 0b10001000, 0b11000110, 0b11111010.
    expect([...hybrid([0, 1, 2, 3, 4, 5, 6, 7], 3)]).toEqual([3, 0b1000_1000, 0b1100_0110, 0b1111_1010]);
    // A run of 9 that does not start on a group boundary: runs are looked for every 8 values only, and the
    // 4 values from 8 on are too few, so all 12 go bit-packed in 2 groups (header 2 << 1 | 1), padded to 16.
    expect([...hybrid([2, 0, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3], 2)]).toEqual([5, 0b1110_0010, 0b1111_1111, 0b1111_1111, 0]);
    // Mixed values, then a run that starts on a group boundary: packed, then RLE.
    expect([...hybrid([1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1)]).toEqual([3, 0b0101_0101, 20, 1]);
    // An RLE value of width 9 to 16 takes two bytes, 17 to 24 three.
    expect([...hybrid(new Array<number>(8).fill(0x1234), 13)]).toEqual([16, 0x34, 0x12]);
    expect([...hybrid(new Array<number>(10).fill(0xabcdef), 24)]).toEqual([20, 0xef, 0xcd, 0xab]);
  });

  it('round-trips through hyparquet for widths 1 to 24, runs of every length near 8, and partial last groups', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (const width of [1, 2, 3, 5, 7, 8, 9, 12, 16, 17, 20, 24]) {
      const top = 2 ** width;
      const values: number[] = [];
      for (const run of [1, 7, 8, 9, 3, 16, 1, 1, 2, 30, 5, 8, 6]) {
        const value = random(top);
        for (let k = 0; k < run; k++) values.push(run < 3 ? random(top) : value);
      }
      values.push(top - 1);
      for (const count of [values.length, values.length - 3, 1, 9]) {
        const slice = values.slice(0, count);
        expect(decodeHybrid(hybrid(slice, width), width, count)).toEqual(slice);
      }
    }
  });

  it('appends to what the buffer holds and ends exactly after the last group', () => {
    const out = new Bytes(1);
    out.byte(0xaa);
    encodeHybrid([5, 6, 7], 3, 4, out);
    out.byte(0xbb);
    expect([...out.view()]).toEqual([0xaa, 3, 0x65, 0x07, 0, 0, 0xbb]);
  });
});

describe('bitWidth', () => {
  it('gives the bits needed for indices below a dictionary size, at least 1', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 255, 256, 257, 65_536, 65_537].map(bitWidth)).toEqual([1, 1, 2, 2, 3, 3, 4, 8, 8, 9, 16, 17]);
  });
});

describe('plainStrings', () => {
  it('writes each text as a 4-byte little-endian length and its UTF-8 bytes, short or long, ASCII or not', () => {
    const texts = ['', 'a', 'héllo', '漢字😀', 'x'.repeat(31), 'y'.repeat(32), `é${'z'.repeat(40)}`, 'q'.repeat(70_000)];
    for (const set of [texts, texts.filter((text) => /^[ -~]*$/.test(text))]) {
      const out = new Bytes(3);
      out.byte(0xee);
      plainStrings(set, out);
      const bytes = out.view();
      expect(bytes[0]).toBe(0xee);
      let at = 1;
      const back: string[] = [];
      while (at < bytes.length) {
        const size = bytes.readUInt32LE(at);
        back.push(bytes.subarray(at + 4, at + 4 + size).toString('utf8'));
        at += 4 + size;
      }
      expect(at).toBe(bytes.length);
      expect(back).toEqual(set);
    }
  });
});

describe('compareUtf8', () => {
  it('orders as the texts\' UTF-8 bytes do, also where a character past U+FFFF meets one from U+E000', () => {
    const texts = ['', 'a', 'ab', 'b', 'z', 'é', '\ud7ff', '\ue000', '\uffff', '😀', '😀a', '\u{10000}', 'a😀', 'a\ue000', 'a\uffff'];
    for (const a of texts) {
      for (const b of texts) {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect([a, b, Math.sign(compareUtf8(a, b))]).toEqual([a, b, bytes]);
      }
    }
    // Below U+E000, a surrogate sorts as UTF-16 does (above): no special case.
    expect(Math.sign(compareUtf8('\ud83d\ude00', '\ud7ff'))).toBe(1);
    expect(Math.sign(compareUtf8('\ud7ff', '\ud83d\ude00'))).toBe(-1);
  });
});
