import { ConfigError } from '../core/errors.js';
import type { AnySource } from '../core/source.js';
import { ons } from './ons.js';
import { randomPerson } from './random-person.js';
import { climatempo } from './climatempo.js';
import { supermetrics } from './supermetrics.js';
import { postgres } from './postgres.js';

/** Every source, one line each. */
export const sources: readonly AnySource[] = [ons, climatempo, randomPerson, supermetrics, postgres];

export function findSource(name: string): AnySource {
  const source = sources.find((s) => s.name === name);
  if (!source) throw new ConfigError(`unknown source "${name}"`, { hint: `choose one of: ${sources.map((s) => s.name).join(', ')}` });
  return source;
}
