import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { envPrefix } from '../../src/core/source.js';
import { findSource, sources } from '../../src/sources/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the source registry', () => {
  it('finds each source by name; an unknown name is a usage error listing the sources', () => {
    for (const source of sources) expect(findSource(source.name)).toBe(source);
    let thrown: unknown;
    try {
      findSource('climatemp');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toBe('unknown source "climatemp"');
    expect((thrown as ConfigError).hint).toBe('choose one of: ons, climatempo, random-person, supermetrics, postgres');
  });

  it("a source's name is its file, its fixture folder and its env prefix; its default dataset is one of its datasets", () => {
    for (const source of sources) {
      expect(existsSync(path.join(root, 'src', 'sources', `${source.name}.ts`))).toBe(true);
      expect(existsSync(path.join(root, 'test', 'fixtures', source.name))).toBe(true);
      for (const variable of source.env) expect(variable.definedBy !== undefined || variable.name.startsWith(`${envPrefix(source.name)}_`)).toBe(true);
      expect(source.datasets.map((d) => d.name)).toContain(source.defaultDataset);
    }
    expect(envPrefix('random-person')).toBe('RANDOM_PERSON');
  });
});
