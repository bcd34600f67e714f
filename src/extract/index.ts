import type { AnySource } from '../core/source.js';
import { ons } from './ons.js';
import { randomPerson } from './random-person.js';
import { climatempo } from './climatempo.js';
import { supermetrics } from './supermetrics.js';

/** Every source, one line each. */
export const sources: readonly AnySource[] = [ons, climatempo, randomPerson, supermetrics];
