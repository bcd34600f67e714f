import { describe, expect, it } from 'vitest';
import { BinaryCopyDecoder, type CopyFieldKind, type DecodedBatch } from '../../src/core/copy-binary.js';

/** core/copy-binary.ts on bytes built here in PostgreSQL's binary COPY format (the server's own output: postgres-binary-extract.test.ts). */

const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

type Field = Buffer | null;

function row(fields: readonly Field[]): Buffer {
  const parts = [u16(fields.length)];
  for (const field of fields) parts.push(field === null ? i32(-1) : Buffer.concat([i32(field.length), field]));
  return Buffer.concat(parts);
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value & 0xffff);
  return buffer;
}
function i32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}
function i64(value: bigint): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64BE(value);
  return buffer;
}
function f32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeFloatBE(value);
  return buffer;
}
function f64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeDoubleBE(value);
  return buffer;
}
/** numeric's send format: digit count, weight, sign, display scale, base-10,000 digits. */
function numeric(digits: number[], weight: number, sign: number, scale: number): Buffer {
  return Buffer.concat([u16(digits.length), u16(weight), u16(sign), u16(scale), ...digits.map(u16)]);
}
const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/** Everything a decoder gives for `chunks`, each batch copied out (its arrays are reused). */
function decode(kinds: readonly CopyFieldKind[], chunks: readonly Buffer[], batchRows = 1000): Array<{ rows: number; values: unknown[][] }> {
  const decoder = new BinaryCopyDecoder(kinds, batchRows);
  const out: Array<{ rows: number; values: unknown[][] }> = [];
  const keep = (batch: DecodedBatch): void => {
    out.push({
      rows: batch.rows,
      values: batch.columns.map((column, c) =>
        Array.from({ length: batch.rows }, (_, r) => (kinds[c] === 'text' ? column.strings[r] : column.nulls?.[r] === 1 ? null : column.numbers[r])),
      ),
    });
  };
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let batch = decoder.take(); batch; batch = decoder.take()) keep(batch);
  }
  const last = decoder.finish();
  if (last) keep(last);
  return out;
}

const KINDS: CopyFieldKind[] = ['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'bool', 'date', 'timestamp', 'text'];
const ROWS: Field[][] = [
  [u16(-3), i32(-2_000_000_000), i64(-42n), f32(1.1), f64(0.1), numeric([12, 3400], 0, 0, 2), Buffer.from([1]), i32(0), i64(0n), text('plain')],
  [null, null, null, null, null, null, null, null, null, null],
  [u16(32767), i32(7), i64(2n ** 53n + 1n), f32(-2.5), f64(-1e300), numeric([5000], -1, 0x4000, 1), Buffer.from([0]), i32(-10_958), i64(1_500_000n), text('café ☕')],
  [u16(0), i32(0), i64(9_007_199_254_740_991n), f32(3.4028234663852886e38), f64(Number.NaN), numeric([], 0, 0xc000, 0), Buffer.from([1]), i32(2_147_483_647), i64(-(2n ** 63n)), text('')],
  [u16(1), i32(1), i64(1n), f32(0), f64(0), numeric([1234, 5678, 9012, 3456, 7890], 4, 0, 0), Buffer.from([0]), i32(1), i64(-1n), text('x'.repeat(40))],
];
const STREAM = Buffer.concat([HEADER, ...ROWS.map(row), TRAILER]);
const EXPECTED: unknown[][] = [
  [-3, -2_000_000_000, -42, 1.1, 0.1, 12.34, 1, 10_957, 946_684_800_000_000, 'plain'],
  [null, null, null, null, null, null, null, null, null, null],
  [32767, 7, 2n ** 53n + 1n, -2.5, -1e300, -0.5, 0, -1, 946_684_801_500_000, 'café ☕'],
  [0, 0, 9_007_199_254_740_991, 3.4028235e38, Number.NaN, Number.NaN, 1, 2_147_483_647, -(2n ** 63n), ''],
  [1, 1, 1, 0, 0, 12345678901234567890, 0, 10_958, 946_684_799_999_999, 'x'.repeat(40)],
];

describe('BinaryCopyDecoder', () => {
  it('reads every kind in its own array, NULLs as nulls (numbers) or null (text), values as the server means them', () => {
    const [batch, ...rest] = decode(KINDS, [STREAM]);
    expect(rest).toEqual([]);
    expect(batch!.rows).toBe(ROWS.length);
    // Row by row, column by column (bigints where a 64-bit value is past 2^53, in that batch's column only).
    const byRow = EXPECTED.map((_, r) => batch!.values.map((column) => column[r]));
    byRow.forEach((values, r) => values.forEach((value, c) => expect([r, c, value]).toEqual([r, c, typeof value === 'bigint' && typeof EXPECTED[r]![c] === 'number' ? BigInt(EXPECTED[r]![c] as number) : EXPECTED[r]![c]])));
  });

  it('gives the same rows whatever the reads: split at every byte, and one byte at a time', () => {
    const whole = decode(KINDS, [STREAM]);
    for (let at = 1; at < STREAM.length; at++) expect(decode(KINDS, [STREAM.subarray(0, at), STREAM.subarray(at)]), `split at ${at}`).toEqual(whole);
    expect(decode(KINDS, Array.from(STREAM, (byte) => Buffer.from([byte])))).toEqual(whole);
    // Three reads, the middle one inside a single field.
    const third = Math.floor(STREAM.length / 3);
    expect(decode(KINDS, [STREAM.subarray(0, third), STREAM.subarray(third, third + 3), STREAM.subarray(third + 3)])).toEqual(whole);
  });

  it('a row longer than a read, cut anywhere in its first bytes or in many reads, is joined whole', () => {
    const long = 'y'.repeat(5000);
    const stream = Buffer.concat([HEADER, row([i32(1), text('short')]), row([i32(2), text(long)]), row([i32(3), text('after')]), TRAILER]);
    const expected = [{ rows: 3, values: [[1, 2, 3], ['short', long, 'after']] }];
    const secondRow = HEADER.length + row([i32(1), text('short')]).length;
    for (let at = secondRow; at < secondRow + 20; at++) expect(decode(['int4', 'text'], [stream.subarray(0, at), stream.subarray(at)]), `split at ${at}`).toEqual(expected);
    const reads = Array.from({ length: Math.ceil(stream.length / 700) }, (_, i) => stream.subarray(i * 700, (i + 1) * 700));
    expect(decode(['int4', 'text'], reads)).toEqual(expected);
  });

  it('fills batches of batchRows, resetting NULLs and bigints between them', () => {
    const kinds: CopyFieldKind[] = ['int8', 'text', 'int4'];
    const rows = Array.from({ length: 7 }, (_, i) => row([i === 1 ? i64(2n ** 60n) : i64(BigInt(i)), i === 0 ? null : text(`t${i}`), i % 2 === 0 && i < 5 ? null : i32(i)]));
    const batches = decode(kinds, [Buffer.concat([HEADER, ...rows, TRAILER])], 3);
    expect(batches.map((b) => b.rows)).toEqual([3, 3, 1]);
    expect(batches[0]!.values).toEqual([[0n, 2n ** 60n, 2n], [null, 't1', 't2'], [null, 1, null]]);
    expect(batches[1]!.values).toEqual([[3, 4, 5], ['t3', 't4', 't5'], [3, null, 5]]);
    expect(batches[2]!.values).toEqual([[6], ['t6'], [6]]);
  });

  it('repeated short texts are the same string; different texts sharing a cache slot are not confused', () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `n${i % 3000}`);
    const stream = Buffer.concat([HEADER, ...names.map((name) => row([text(name)])), TRAILER]);
    const [batch] = decode(['text'], [stream], 20_000);
    expect(batch!.values[0]).toEqual(names);
  });

  it('fails on a row of the wrong width, a stream cut inside a row, a missing end marker or no signature', () => {
    expect(() => decode(['int4', 'int4'], [Buffer.concat([HEADER, row([i32(1)]), TRAILER])])).toThrow(/a row of 1 fields, expected 2/);
    expect(() => decode(['int4'], [Buffer.concat([HEADER, row([i32(1)]).subarray(0, 5)])])).toThrow(/stopped inside a row/);
    expect(() => decode(['int4'], [Buffer.concat([HEADER, row([i32(1)])])])).toThrow(/before its end marker/);
    expect(() => decode(['int4'], [Buffer.concat([Buffer.from('PGCOPX\n\xff\r\n\0', 'latin1'), Buffer.alloc(8), TRAILER])])).toThrow(/no signature/);
  });
});
