import { describe, expect, it } from 'vitest';
import { plural } from '../../src/core/plural.js';

describe('plural', () => {
  it('puts the noun in the number its count asks for', () => {
    expect([plural(0, 'row'), plural(1, 'row'), plural(2, 'row'), plural(1, 'input file'), plural(4, 'input file'), plural(1, 'entry', 'entries'), plural(3, 'entry', 'entries')]).toEqual(['0 rows', '1 row', '2 rows', '1 input file', '4 input files', '1 entry', '3 entries']);
  });
});
