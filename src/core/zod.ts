/**
 * The parts of zod the sources' option schemas use, imported by name so the bundle leaves out the rest: all of
 * zod (its ~40 locales, JSON Schema conversion) was a 760 KB chunk that each extract and transform parsed and ran,
 * ~85 ms of start-up (docs/performance-history.md). A schema needing more of zod adds it here.
 */
export { ZodError, array, boolean, coerce, iso, number, object, string, union } from 'zod';
