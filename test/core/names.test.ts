import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { checkIdentifier, isIdentifier, showName } from '../../src/core/names.js';

describe('names that become folders are identifiers', () => {
  it.each(['people', 'monthly-deaths', 'forecast_hourly', 'A1', '0', 'x'.repeat(64)])('accepts %j', (name) => {
    expect(isIdentifier(name)).toBe(true);
    expect(checkIdentifier(name, 'dataset')).toBe(name);
  });

  it.each(['', '.', '..', '../x', 'a/b', 'a\\b', '/etc', 'a b', ' a', '-a', '_a', 'a.b', 'a\0b', 'a\nb', 'é', 'x'.repeat(65), 'C:x'])('refuses %j with a usage error', (name) => {
    expect(isIdentifier(name)).toBe(false);
    expect(() => checkIdentifier(name, 'dataset')).toThrow(ConfigError);
    expect(() => checkIdentifier(name, 'dataset')).toThrow(/^dataset ".*" is not a name etl accepts: letters, digits, - and _, starting with a letter or digit, at most 64 characters$/s);
  });

  it('shows a hostile name on one line, escaped and cut short', () => {
    expect(showName('a\nb\u001b[31m\u202e')).toBe('"a\\nb\\u001b[31m\\u202e"');
    expect(showName('y'.repeat(200))).toBe(`"${'y'.repeat(80)}…"`);
  });
});
