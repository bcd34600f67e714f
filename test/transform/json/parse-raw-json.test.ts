import { describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { JsonNumberText, MAX_JSON_DEPTH, exactInteger, parseRawJson, previewJson } from '../../../src/transform/json/parse-raw-json.js';

/** Reading a raw answer: what JSON.parse gives, but no number changed and no nesting past the limit. */

const nested = (depth: number, open: string, close: string, inner = '1'): string => open.repeat(depth) + inner + close.repeat(depth);
const objects = (depth: number): string => nested(depth, '{"a":', '}');
const arrays = (depth: number): string => nested(depth, '[', ']', '');
const refusal = (text: string): DataError => {
  try {
    parseRawJson(text, 'raw/x/page.json');
  } catch (error) {
    return error as DataError;
  }
  throw new Error('expected a refusal');
};

describe('parseRawJson: numbers', () => {
  it.each([
    ['a whole number beyond 2^53', '12345678901234567891'],
    ['a negative one', '-9007199254740993'],
    ['one beyond the largest double (JSON.parse: Infinity)', '1e400'],
    ['and below the smallest (JSON.parse: -Infinity)', '-1e400'],
  ])('keeps %s as its text: %s', (_, literal) => {
    const body = parseRawJson(`{"id": "x", "value": ${literal}, "list": [${literal}]}`, 'page.json') as { value: unknown; list: unknown[] };
    expect(body.value).toEqual(new JsonNumberText(literal));
    expect(body.list[0]).toEqual(new JsonNumberText(literal));
    expect(String(body.value)).toBe(literal);
    expect(previewJson(body.value)).toBe(literal);
  });

  it.each(['9007199254740991', '-9007199254740991', '0.30000000000000004', '1.5e300', '1e-300', '1234567890123456.5e-3', '0', '-0.0', '1e-400', '3.14159265358979323846'])('reads %s as the nearest double, as JSON.parse does', (literal) => {
    expect(parseRawJson(`[1234567890123456789, ${literal}]`, 'page.json')).toEqual([new JsonNumberText('1234567890123456789'), JSON.parse(literal)]);
    expect(parseRawJson(`[${literal}]`, 'page.json')).toEqual([JSON.parse(literal)]);
  });

  it('reads everything else exactly as JSON.parse does, on the slower path too', () => {
    const text = JSON.stringify({
      text: 'quote " backslash \\ unicode é \u2028 \ud83d\ude00 \u0000 tab \t',
      digits: '12345678901234567890',
      nested: { list: [true, false, null, [], {}, [[1, 2], { a: -1.5e-7 }]], empty: '' },
      dup: 1,
    }).replace('"dup":1', '"dup":1,"dup":2,"__proto__":{"polluted":true}');
    expect(parseRawJson(text, 'page.json')).toEqual(JSON.parse(text));
    const slow = parseRawJson(`{"big": 12345678901234567891, "rest": ${text}}`, 'page.json') as { rest: unknown };
    expect(slow.rest).toEqual(JSON.parse(text));
    expect(Object.getPrototypeOf(slow.rest)).toBe(Object.prototype);
    expect(Object.keys(slow.rest as object)).toContain('__proto__');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it.each([
    ['a trailing comma', '[12345678901234567891,]'],
    ['an unterminated string', '[12345678901234567891, "abc'],
    ['a leading zero', '[12345678901234567891, 01]'],
    ['a bare word', '[12345678901234567891, nope]'],
    ['a missing colon', '{"a" 12345678901234567891}'],
    ['a control character in a string', '[12345678901234567891, "a\u0001b"]'],
    ['text after the value', '[12345678901234567891] x'],
    ['nothing at all', ''],
  ])('refuses %s, on either path, as JSON.parse does', (_, text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    const error = refusal(text);
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(/^raw\/x\/page\.json is not valid JSON: /);
  });

  it('exactInteger: the whole number a decimal text denotes, or undefined', () => {
    expect(exactInteger('12345678901234567891')).toBe(12345678901234567891n);
    expect(exactInteger('-1.5e3')).toBe(-1500n);
    expect(exactInteger('150e-1')).toBe(15n);
    expect(exactInteger(' 42.000 ')).toBe(42n);
    expect(exactInteger('0.0e-9')).toBe(0n);
    expect(exactInteger('1.5')).toBeUndefined();
    expect(exactInteger('1e400')).toBeUndefined();
    expect(exactInteger('12abc')).toBeUndefined();
  });
});

describe('parseRawJson: depth', () => {
  it(`reads ${MAX_JSON_DEPTH} levels of objects or lists, and refuses one more, naming the file and where`, () => {
    expect(() => parseRawJson(objects(MAX_JSON_DEPTH), 'page.json')).not.toThrow();
    expect(() => parseRawJson(arrays(MAX_JSON_DEPTH), 'page.json')).not.toThrow();
    const error = refusal(`{"results": [{"id": 1, "deep": ${objects(MAX_JSON_DEPTH - 2)}}]}`);
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe(`raw/x/page.json: $.results[0].deep.a.a.a.a.a.a.a.a.a… is nested more than ${MAX_JSON_DEPTH} levels deep, past what etl reads`);
    expect(refusal(arrays(MAX_JSON_DEPTH + 1)).message).toBe(`raw/x/page.json: $[0][0][0][0][0][0][0][0][0][0][0][0]… is nested more than ${MAX_JSON_DEPTH} levels deep, past what etl reads`);
  });

  it.each([
    ['objects', objects(200_000)],
    ['lists', arrays(200_000)],
    ['objects beside a number read from the text', `[12345678901234567891, ${objects(200_000)}]`],
    ['lists beside a number read from the text', `[12345678901234567891, ${arrays(200_000)}]`],
  ])('200,000 levels of %s: one data error, never a stack overflow', (_, text) => {
    const error = refusal(text);
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(/is nested more than 64 levels deep/);
  });

  it('names an odd key in the path as a quoted string', () => {
    expect(refusal(`{"a b": ${arrays(MAX_JSON_DEPTH)}}`).message).toMatch(/^raw\/x\/page\.json: \$\["a b"\]\[0\]\[0\]/);
  });

  it('previewJson shows a value too deep to stringify without overflowing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(previewJson(deep)).toBe('[…]');
    expect(previewJson('x'.repeat(500))).toHaveLength(81);
  });
});
