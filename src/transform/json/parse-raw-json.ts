import { DataError } from '../../core/errors.js';

/**
 * Reading an API answer from the raw layer: a depth limit (the walks over an answer, and JSON.stringify
 * in messages, recurse; JSON.parse itself does not), and number literals that a double cannot hold kept
 * as their text, so a text column keeps them exactly and an INT64 column exactly or not at all.
 */

/** Answers nested deeper than this are refused. Real answers nest under 10 levels (randomuser.me: 4). */
export const MAX_JSON_DEPTH = 64;

/**
 * A number literal a double cannot hold: a whole number beyond ±2^53 (12345678901234567891, which
 * JSON.parse reads as 12345678901234567000), or one beyond ±1.8e308 (1e400, which it reads as Infinity).
 * Other decimals are read as the nearest double, as by any JSON reader.
 */
export class JsonNumberText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

/** The answer in a raw file; not JSON, or nested too deep, is a data error naming the file. */
export function parseRawJson(text: string, file: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file} is not valid JSON: ${(error as Error).message}`, { hint: 'extract again to replace the raw file' });
  }
  const walked = walkAnswer(body, MAX_JSON_DEPTH);
  if (walked.tooDeep !== undefined) {
    throw new DataError(`${file}: ${walked.tooDeep} is nested more than ${MAX_JSON_DEPTH} levels deep, past what etl reads`, {
      hint: 'no real answer nests this deep: the API (or whatever answered in its place) sent something broken; extract again or report it',
    });
  }
  // Rare: read again from the text, so those numbers keep their digits. JSON.parse is several times faster.
  return walked.numberChanged ? parseKeepingNumbers(text) : body;
}

/** A value for a message: JSON, at most `max` characters; safe for a value of any depth (JSON.stringify recurses). */
export function previewJson(value: unknown, max = 80): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : value instanceof JsonNumberText ? value.text : JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : '{…}'; // nested too deep to show
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * One walk over a parsed answer: the JSON path of the first value nested deeper than `max`, and whether
 * JSON.parse changed a number (Infinity, or a whole number past 2^53). Iterative, so any depth is safe;
 * it runs on every answer, so it keeps no paths until it finds one too deep, then walks again for it.
 */
function walkAnswer(root: unknown, max: number): { tooDeep?: string; numberChanged: boolean } {
  const values: unknown[] = [];
  const depths: number[] = [];
  let numberChanged = false;
  const visit = (value: unknown, depth: number): void => {
    if (value !== null && typeof value === 'object') {
      values.push(value);
      depths.push(depth);
    } else if (typeof value === 'number' && !Number.isSafeInteger(value) && (Number.isInteger(value) || !Number.isFinite(value))) {
      numberChanged = true;
    }
  };
  visit(root, 1);
  while (values.length > 0) {
    const value = values.pop() as Record<string, unknown>;
    const depth = depths.pop()!;
    if (depth > max) return { tooDeep: firstPathDeeperThan(root, max), numberChanged };
    if (Array.isArray(value)) for (let index = 0; index < value.length; index++) visit(value[index], depth + 1);
    else for (const key in value) visit(value[key], depth + 1);
  }
  return { numberChanged };
}

interface Frame {
  value: unknown;
  key: string | number;
  parent: Frame | undefined;
  depth: number;
}

/** The same walk in document order, keeping each value's path. */
function firstPathDeeperThan(root: unknown, max: number): string {
  const stack: Frame[] = [{ value: root, key: '$', parent: undefined, depth: 1 }];
  for (;;) {
    const frame = stack.pop()!;
    const value = frame.value as Record<string, unknown>;
    if (value === null || typeof value !== 'object') continue;
    if (frame.depth > max) return pathOf(frame);
    const keys: Array<string | number> = Array.isArray(value) ? value.map((_, index) => index) : Object.keys(value);
    for (const key of keys.reverse()) stack.push({ value: value[key], key, parent: frame, depth: frame.depth + 1 });
  }
}

const SHOWN_STEPS = 12;
const PLAIN_KEY = /^[A-Za-z_$][\w$]{0,39}$/;

/** `$.results[0].deep.a.a…`: the first steps of a path, enough to find it. */
function pathOf(frame: Frame): string {
  const steps: Array<string | number> = [];
  for (let at: Frame | undefined = frame; at?.parent; at = at.parent) steps.push(at.key);
  steps.reverse();
  const shown = steps.slice(0, SHOWN_STEPS).map((key) => (typeof key === 'number' ? `[${key}]` : PLAIN_KEY.test(key) ? `.${key}` : `[${previewJson(key, 40)}]`));
  return `$${shown.join('')}${steps.length > SHOWN_STEPS ? '…' : ''}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * JSON.parse's result, but with JsonNumberText for the literals a double cannot hold. Iterative (an
 * explicit stack), so nesting cannot overflow the call stack; strings are decoded by JSON.parse itself.
 */
function parseKeepingNumbers(text: string): unknown {
  type Open = { container: unknown[] } | { container: Record<string, unknown>; key: string | undefined };
  const open: Open[] = [];
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${at}`);
  };
  const skipWhitespace = (): void => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  };
  const readString = (): string => {
    let end = at + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
    if (end >= text.length) fail('Unterminated string');
    const decoded = JSON.parse(text.slice(at, end + 1)) as string;
    at = end + 1;
    return decoded;
  };
  const readScalar = (): unknown => {
    const char = text[at];
    if (char === '"') return readString();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = at;
    const literal = NUMBER.exec(text)?.[0] ?? fail(`Unexpected ${char === undefined ? 'end of JSON input' : `token ${char}`}`);
    at += literal.length;
    return numberOf(literal);
  };

  let result: unknown;
  let done = false;
  // Each turn reads one value (or opens a container), then closes whatever containers end after it.
  for (;;) {
    skipWhitespace();
    const top = open.at(-1);
    if (top && !Array.isArray(top.container)) {
      const object = top as { container: Record<string, unknown>; key: string | undefined };
      if (text[at] !== '"') fail(`Expected a property name, found ${text[at] ?? 'the end'}`);
      object.key = readString();
      skipWhitespace();
      if (text[at] !== ':') fail(`Expected ':', found ${text[at] ?? 'the end'}`);
      at++;
      skipWhitespace();
    }
    let value: unknown;
    if (text[at] === '{' || text[at] === '[') {
      const container = text[at] === '{' ? {} : [];
      at++;
      skipWhitespace();
      const closing = Array.isArray(container) ? ']' : '}';
      if (text[at] !== closing) {
        open.push(Array.isArray(container) ? { container } : { container, key: undefined });
        continue;
      }
      at++;
      value = container;
    } else {
      value = readScalar();
    }
    // Place the value, then close containers while their closing bracket follows.
    for (;;) {
      const parent = open.at(-1);
      if (!parent) {
        result = value;
        done = true;
        break;
      }
      if (Array.isArray(parent.container)) parent.container.push(value);
      else setProperty(parent.container, (parent as { key: string }).key, value);
      skipWhitespace();
      const closing = Array.isArray(parent.container) ? ']' : '}';
      if (text[at] === ',') {
        at++;
        break;
      }
      if (text[at] !== closing) fail(`Expected ',' or '${closing}', found ${text[at] ?? 'the end'}`);
      at++;
      open.pop();
      value = parent.container;
    }
    if (done) break;
  }
  skipWhitespace();
  if (at < text.length) fail(`Unexpected non-whitespace character after JSON`);
  return result;
}

/** `__proto__` as a key is data, as JSON.parse makes it, never the object's prototype. */
function setProperty(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

function numberOf(literal: string): number | JsonNumberText {
  const value = Number(literal);
  // A whole number past 2^53 may read as its neighbour (…993 as …992), even when printed back the same.
  return !Number.isFinite(value) || (!Number.isSafeInteger(value) && /^-?\d+$/.test(literal)) ? new JsonNumberText(literal) : value;
}

function decimalOf(text: string): { negative: boolean; digits: string; exponent: number } | undefined {
  const match = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return undefined;
  const fraction = match[3] ?? '';
  const all = (match[2]! + fraction).replace(/^0+/, '');
  const digits = all.replace(/0+$/, '');
  return { negative: match[1] === '-', digits, exponent: Number(match[4] ?? 0) - fraction.length + (all.length - digits.length) };
}

/**
 * The whole number a decimal text denotes, exactly (`12345678901234567891`, `1.5e3`), or undefined when it
 * is not whole, or longer than 40 digits (far past any integer column).
 */
export function exactInteger(text: string): bigint | undefined {
  const decimal = decimalOf(text.trim());
  if (!decimal) return undefined;
  if (decimal.digits === '') return 0n;
  if (decimal.exponent < 0 || decimal.digits.length + decimal.exponent > 40) return undefined;
  const magnitude = BigInt(decimal.digits + '0'.repeat(decimal.exponent));
  return decimal.negative ? -magnitude : magnitude;
}
