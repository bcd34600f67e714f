import { describe, expect, it } from 'vitest';
import { normaliseLabel, normaliseLabelFully } from '../../../src/transform/layout/row-rules.js';

/** A small deterministic generator (xorshift), so a failure names a text that can be tried again. */
function* texts(count: number): Generator<string> {
  // Pieces that the full rules act on: footnote digits, leading zeros, notes, dashes, `&`, odd spaces.
  const pieces = ['Area', 'name', 'EAST', 'E12000001', 'E1', 'K04', 'w06', '0', '05', '5', '12', '123', '2019', ' ', ' ', '  ', '\t', '-', ' - ', '\u2013', '&', ',', ', ', '(', ')', '[note 1]', 'Wales', 'and', 'x'];
  let state = 0x2545f491;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % pieces.length;
  };
  for (let i = 0; i < count; i++) {
    const length = 1 + (i % 6);
    let text = '';
    for (let p = 0; p < length; p++) text += pieces[next()]!;
    yield text;
  }
}

describe('normaliseLabel', () => {
  it.each([
    ['Area 123 name', 'area 123 name'],
    ['Kingston upon Thames', 'kingston upon thames'],
    ['E12000001', 'e12000001'],
    ['0', '0'],
    ['12', '12'],
    // Footnote digits after a label, leading zeros and spacing still go the full way.
    ['Persons 5', 'persons'],
    ['E1', 'e'],
    ['Area 05 name', 'area 5 name'],
    ['05', '5'],
    ['EAST  ', 'east'],
    ['Yorkshire & the Humber [note 2]', 'yorkshire and the humber'],
  ])('%j -> %j', (text, expected) => {
    expect(normaliseLabel(text)).toBe(expected);
  });

  it('gives what the full rules give for any text (the plain-label short way changes nothing)', () => {
    const differing: Array<[string, string, string]> = [];
    for (const text of texts(50_000)) {
      const short = normaliseLabel(text);
      const full = normaliseLabelFully(text);
      if (short !== full) differing.push([text, short, full]);
    }
    expect(differing.slice(0, 5)).toEqual([]);
  });
});
