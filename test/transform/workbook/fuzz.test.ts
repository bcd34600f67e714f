import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError } from '../../../src/core/errors.js';
import { monthlyDeaths } from '../../../src/transform/datasets/monthly-deaths.js';
import { weeklyDeaths } from '../../../src/transform/datasets/weekly-deaths.js';
import type { WorkbookDataset } from '../../../src/transform/layout/dataset.js';
import { readWorkbook } from '../../../src/transform/workbook/workbook.js';
import { XmlScanner, type XmlHandler } from '../../../src/transform/workbook/xml-scanner.js';
import { monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { runCli } from '../../helpers/run-cli.js';
import { sheetRows } from '../../helpers/sheet-rows.js';
import { hasSharedData, sharedDataDir } from '../../helpers/shared-data.js';
import { readRows } from '../../helpers/workbook-rows.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';
import { writeZip } from '../../helpers/zip-writer.js';

/**
 * Seeded fuzzing of the two workbook readers and the XML scanner: random truncations, bit flips and
 * structure mutations (XML edits inside the zip, BIFF record edits inside the OLE2 container) of real and
 * generated workbooks. Every input must read, or fail with an EtlError (a clean exit 2-5): never a
 * TypeError or RangeError escaping (exit 1), never a crash or a hang. Deterministic: the same seed gives
 * the same inputs, so a failure names its case and replays.
 */
const SEED = 20_260_801;
const MUTANTS_PER_SEED_FILE = 24;

/** mulberry32: small, fast and good enough to pick offsets and bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Random = () => number;
const pick = <T>(rng: Random, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const below = (rng: Random, n: number): number => Math.floor(rng() * n);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-fuzz-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Seed {
  name: string;
  bytes: Buffer;
  dataset: WorkbookDataset;
}

async function seedFiles(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for (const ext of ['xlsx', 'xls']) {
    const file = path.join(work, `generated.${ext}`);
    await writeWorkbook(file, monthlySheets({ year: 2019, extraSheets: true }));
    seeds.push({ name: `generated.${ext}`, bytes: await readFile(file), dataset: monthlyDeaths });
  }
  if (hasSharedData) {
    // One real workbook of each kind and layout keeps the run short; the readers' own tests read them all.
    for (const [folder, name, dataset] of [
      ['ons-monthly', 'Monthly2019Mortality.xls', monthlyDeaths],
      ['ons-weekly', '2014Mortality.xls', weeklyDeaths],
      ['ons-weekly', '2020Mortality.xlsx', weeklyDeaths],
      ['ons-weekly', 'publicationfileweek032023.xlsx', weeklyDeaths],
    ] as const) {
      seeds.push({ name, bytes: await readFile(path.join(sharedDataDir, folder, name)), dataset });
    }
  } else {
    console.warn('[skip] fuzzing generated workbooks only: ../shared/data is absent');
  }
  return seeds;
}

function truncateAt(rng: Random, bytes: Buffer): Buffer {
  return bytes.subarray(0, below(rng, bytes.length));
}

function flipBits(rng: Random, bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  for (let n = 1 + below(rng, 8); n > 0; n--) copy[below(rng, copy.length)]! ^= 1 << below(rng, 8);
  return copy;
}

/** Things a damaged or crafted sheet may hold. */
const XML_SNIPPETS = [
  '<c r="ZZZZZZZZ7"><v>1</v></c>', '<row r="0">', '<row r="99999999">', '</row>', '<c t="s"><v>99999</v></c>', '<c t="s"><v>-1</v></c>',
  '<c r="A1" t="d"><v>not a date</v></c>', '<v>1e400</v>', '&#xFFFFFF;', '&#0;', '&bogus;', '<![CDATA[', ']]>', '<!--', '-->', '<?pi', '<',
  '>', '"', "'", '<c r="XFD1"><v>1</v></c>', '<is><t>', '</t></is>', '<si>', '</si>', '<sheet name="x" r:id="rId99"/>', '<xf numFmtId="14"/>',
  '\u0000', '\uFFFF', '<x:row>', '<c r="A1" s="999999"><v>1</v></c>',
];

/** An .xlsx with one member's XML edited: a range deleted, duplicated, or a snippet inserted. */
async function mutateXlsx(rng: Random, bytes: Buffer): Promise<Buffer | undefined> {
  const members = readZipMembers(bytes);
  const xmlNames = Object.keys(members).filter((name) => name.endsWith('.xml') || name.endsWith('.rels'));
  if (xmlNames.length === 0) return undefined;
  const name = pick(rng, xmlNames);
  let text = members[name]!.toString('utf8');
  for (let n = 1 + below(rng, 3); n > 0; n--) {
    const at = below(rng, text.length + 1);
    const length = below(rng, 200);
    switch (below(rng, 3)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + length);
        break;
      case 1:
        text = text.slice(0, at) + text.slice(at, at + length) + text.slice(at);
        break;
      default:
        text = text.slice(0, at) + pick(rng, XML_SNIPPETS) + text.slice(at);
    }
  }
  members[name] = Buffer.from(text, 'utf8');
  return zipBytes(members);
}

/** Members of a zip the test itself can read (the seeds are well-formed; only their copies are damaged). */
function readZipMembers(bytes: Buffer): Record<string, Buffer> {
  const members: Record<string, Buffer> = {};
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    const method = bytes.readUInt16LE(at + 10);
    const compressedSize = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const name = bytes.toString('utf8', at + 46, at + 46 + nameLength);
    const local = bytes.readUInt32LE(at + 42);
    const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const data = bytes.subarray(dataStart, dataStart + compressedSize);
    members[name] = method === 0 ? Buffer.from(data) : inflateRawSync(data);
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return members;
}

async function zipBytes(members: Record<string, Buffer>): Promise<Buffer> {
  const file = path.join(work, 'scratch.zip');
  await writeZip(file, members);
  return readFile(file);
}

/** An .xls with BIFF records of its Workbook stream damaged: a length, a type, or a field inside a record. */
function mutateXls(rng: Random, bytes: Buffer): Buffer | undefined {
  const container = XLSX.CFB.read(bytes, { type: 'buffer' });
  const entry = XLSX.CFB.find(container, 'Workbook');
  if (!entry) return undefined;
  const stream = Buffer.from(entry.content as Uint8Array);
  const offsets: number[] = [];
  for (let at = 0; at + 4 <= stream.length; at += 4 + stream.readUInt16LE(at + 2)) offsets.push(at);
  for (let n = 1 + below(rng, 3); n > 0; n--) {
    const at = pick(rng, offsets);
    switch (below(rng, 4)) {
      case 0: // the record's length
        stream.writeUInt16LE(below(rng, 0x10000), at + 2);
        break;
      case 1: // its type
        stream.writeUInt16LE(pick(rng, [0x0809, 0x000a, 0x003c, 0x00fc, 0x00fd, 0x0203, 0x027e, 0x00bd, 0x0204, 0x0006, 0x0207, 0x0085]), at);
        break;
      default: // a 16- or 32-bit field inside it: row, column, index, count
        if (stream.readUInt16LE(at + 2) >= 4) stream.writeUInt32LE(pick(rng, [0, 0xffff, 0xffffffff, 60_000, below(rng, 0x100000000)]), at + 4 + below(rng, stream.readUInt16LE(at + 2) - 3));
    }
  }
  XLSX.CFB.utils.cfb_del(container, '/Workbook');
  XLSX.CFB.utils.cfb_add(container, '/Workbook', stream);
  return XLSX.CFB.write(container, { type: 'buffer' }) as Buffer;
}

/** Reads every row of every sheet, then the declared table: both must succeed or fail with an EtlError. */
async function readFully(file: string, dataset: WorkbookDataset): Promise<'read' | 'data error'> {
  try {
    for await (const sheet of readWorkbook(file)) for await (const row of sheetRows(sheet)) void row;
    await readRows({ file }, dataset);
    return 'read';
  } catch (error) {
    if (error instanceof EtlError) return 'data error';
    throw Object.assign(new Error(`${path.basename(file)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`), { cause: error });
  }
}

describe('fuzzing the workbook readers', () => {
  // A fixed amount of work (seeded): ~18 s on this VM, 45 s seen under load 17; the timeout guards against a hang only.
  it('truncated, bit-flipped and structurally mutated workbooks read or fail with a data error', { timeout: 180_000 }, async () => {
    const rng = random(SEED);
    const outcomes = { read: 0, 'data error': 0 };
    const kept: Array<{ file: string; dataset: WorkbookDataset }> = [];
    for (const seed of await seedFiles()) {
      const isXlsx = seed.bytes.readUInt32BE(0) === 0x504b0304;
      for (let i = 0; i < MUTANTS_PER_SEED_FILE; i++) {
        const how = pick(rng, ['truncate', 'flip', 'structure', 'structure'] as const);
        const mutant = how === 'truncate' ? truncateAt(rng, seed.bytes) : how === 'flip' ? flipBits(rng, seed.bytes) : await (isXlsx ? mutateXlsx(rng, seed.bytes) : mutateXls(rng, seed.bytes));
        if (!mutant) continue;
        const file = path.join(work, `${how}-${i}-${seed.name}`);
        await writeFile(file, mutant);
        outcomes[await readFully(file, seed.dataset)]++;
        if (i === MUTANTS_PER_SEED_FILE - 1) kept.push({ file, dataset: seed.dataset });
        else await rm(file);
      }
    }
    // Both outcomes occur: the mutations neither all miss nor all break the files.
    expect(outcomes.read).toBeGreaterThan(0);
    expect(outcomes['data error']).toBeGreaterThan(0);

    // A sample through the built CLI: the exit code is 0 or 4, never 1, and stderr is at most one line.
    for (const { file, dataset } of kept) {
      const result = await runCli(['transform', 'ons', dataset.name, '--input', file, '--out', path.join(work, 'out.parquet')]);
      expect({ file: path.basename(file), code: [0, 4].includes(result.code) ? 'clean' : result.code }).toEqual({ file: path.basename(file), code: 'clean' });
      expect(result.stderr.split('\n').filter((line) => line !== '').length).toBeLessThanOrEqual(1);
    }
    expect((await readdir(work)).filter((name) => name.startsWith('.etl-tmp-'))).toEqual([]);
  });
});

/** Records what the scanner reports, adjacent text merged (how text is cut into text() calls may vary). */
function recordingHandler(): XmlHandler & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    capturing: true,
    open(name, tag, selfClosing) {
      events.push(`<${name} ${JSON.stringify(tag.attributes())}${selfClosing ? '/' : ''}>`);
    },
    close(name) {
      events.push(`</${name}>`);
    },
    text(data) {
      if (events.at(-1)?.startsWith('"')) events[events.length - 1] = JSON.stringify(JSON.parse(events.at(-1)!) + data);
      else events.push(JSON.stringify(data));
    },
  };
}

function scan(text: string, cuts: number[]): string[] | 'error' {
  const handler = recordingHandler();
  const scanner = new XmlScanner(handler, 4096);
  try {
    let at = 0;
    for (const cut of [...cuts, text.length]) {
      scanner.feed(text.slice(at, cut));
      at = cut;
    }
    scanner.end();
    return handler.events;
  } catch (error) {
    // Only the scanner's own errors: a TypeError or RangeError would be a bug.
    if (error instanceof TypeError || error instanceof RangeError) throw error;
    return 'error';
  }
}

describe('fuzzing the XML scanner', () => {
  it('reports the same elements and text however the input is cut into chunks, and fails only with its own errors', () => {
    const rng = random(SEED + 1);
    const pieces = [...XML_SNIPPETS, '<row r="1">', '<c r="B2" t="inlineStr">', '<t xml:space="preserve">', ' a &amp; b ', '</c>', '<v>', '</v>', '12.5', '\r\n', 'x'.repeat(5000)];
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: 1 + below(rng, 30) }, () => pick(rng, pieces)).join('');
      const cuts = Array.from({ length: below(rng, 6) }, () => below(rng, text.length + 1)).sort((a, b) => a - b);
      const whole = scan(text, []);
      const chunked = scan(text, cuts);
      // A text longer than the limit fails whole but may pass in pieces the handler drops; otherwise the same.
      if (whole !== 'error' && chunked !== 'error') expect({ text, cuts, events: chunked }).toEqual({ text, cuts, events: whole });
    }
  });
});
