import { crypto } from './lazy-crypto.js';
import { readFile, realpath, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describeWriteError, writeFileAtomic } from './atomic-file.js';
import { DataError, errorMessage } from './errors.js';
import { checkIdentifier } from './names.js';
import { maskKnownSecrets, stripCredentials } from './redact.js';
import type { Logger } from './log.js';
import { UntrustedPathError, checkRecordedFile, readRecordedFile, resolveInside, type RecordField } from './recorded-file.js';
import type { ApiResponse, RecordedRequest } from './api-client.js';

/**
 * The raw layer: files exactly as the source served them, under <dataDir>/raw/<source>/<dataset>/<edition>/,
 * with a manifest saying where each came from and what it should hash to.
 */
export interface ManifestEntry {
  url: string;
  edition: number;
  /** Relative to the dataset's raw folder, e.g. `2019/publishedoutput2019.xls`. */
  path: string;
  bytes: number;
  sha256: string;
  etag: string | null;
  last_modified: string | null;
  content_type: string | null;
  fetched_at: string;
}

export interface Manifest {
  source: string;
  dataset: string;
  page_url: string;
  updated_at: string;
  files: ManifestEntry[];
}

/** Names are checked here too, as the last guard before a name becomes a path. */
export function rawDatasetDir(dataDir: string, source: string, dataset: string): string {
  return path.join(dataDir, 'raw', checkIdentifier(source, 'source'), checkIdentifier(dataset, 'dataset'));
}

export function manifestPath(rawDir: string): string {
  return path.join(rawDir, 'manifest.json');
}

/** An API answer in the raw layer: the body as received, and the request that fetched it, without secrets. */
export interface ResponseEntry {
  /** Relative to the dataset's raw folder, e.g. `3477/hours-72.json`. */
  path: string;
  /** What the file stands for (a city, a page, a chunk): a later file with the same key replaces it. */
  key: string;
  request: RecordedRequest;
  status: number;
  bytes: number;
  sha256: string;
  fetched_at: string;
  /** The API echoed a secret in its answer: it was masked before the body was written. */
  secrets_masked?: true;
}

export interface ResponseManifest {
  source: string;
  dataset: string;
  updated_at: string;
  files: ResponseEntry[];
}

/**
 * Writes the body atomically, exactly as received (unless it echoes a secret, which is masked: secrets
 * never reach the disk), and describes it for the manifest.
 */
export async function saveResponse(rawDir: string, relativePath: string, key: string, response: ApiResponse): Promise<ResponseEntry> {
  const masked = maskKnownSecrets(response.body);
  const body = masked ?? response.body;
  await writeFileAtomic(path.join(rawDir, relativePath), body);
  return {
    path: relativePath,
    key,
    request: response.request,
    status: response.status,
    bytes: body.length,
    sha256: crypto().createHash('sha256').update(body).digest('hex'),
    fetched_at: response.fetchedAt,
    ...(masked ? { secrets_masked: true as const } : {}),
  };
}

/** The manifest, or null when there is none yet. A damaged one is reported and treated as absent. */
export async function readManifest<M extends { files: unknown[] } = Manifest>(rawDir: string, log: Logger): Promise<M | null> {
  const file = manifestPath(rawDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const manifest = JSON.parse(text) as M;
    if (!Array.isArray(manifest.files)) throw new Error('no files list');
    return manifest;
  } catch (error) {
    log.warn(`${file} is damaged (${errorMessage(error)}); every file will be fetched again`);
    return null;
  }
}

export async function writeManifest(rawDir: string, manifest: Manifest | ResponseManifest): Promise<void> {
  const file = manifestPath(rawDir);
  await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n').catch((error: unknown) => {
    throw describeWriteError(error, file);
  });
}

/**
 * The manifest kept true while files change under it, so a run killed at any point leaves no entry whose
 * bytes differ from the file: an entry is dropped (and the manifest rewritten) before its file is
 * replaced, and added back once the new file is in place. One entry per path and per URL.
 */
export interface ManifestStore {
  /** The entry for a file fetched from `url`, if its file is listed. */
  find(url: string): ManifestEntry | undefined;
  forget(relativePath: string): Promise<void>;
  record(entry: ManifestEntry): Promise<void>;
  /** Rewrites the manifest as it stands (its updated_at says when the last run ended). */
  save(): Promise<void>;
}

/**
 * Opens the manifest of `rawDir` for per-file updates. Entries whose file is missing or no longer hashes
 * to what they say are dropped first (that file is then fetched whole); URLs lose any credentials.
 */
export async function openManifest(rawDir: string, header: Pick<Manifest, 'source' | 'dataset' | 'page_url'>, log: Logger, now: () => Date): Promise<ManifestStore> {
  const byPath = new Map<string, ManifestEntry>();
  let changed = false;
  for (const [index, entry] of ((await readManifest(rawDir, log))?.files ?? []).entries()) {
    if (await entryMatches({ rawDir, entry, index }, log)) byPath.set(entry.path, { ...entry, url: stripCredentials(entry.url) });
    else changed = true;
  }
  let queue: Promise<void> = Promise.resolve();
  // Writes are chained, each a snapshot taken when asked for, so the last one on disk is the newest state.
  const save = (): Promise<void> => {
    const files = [...byPath.values()].sort((a, b) => a.edition - b.edition || a.path.localeCompare(b.path));
    const manifest: Manifest = { source: header.source, dataset: header.dataset, page_url: stripCredentials(header.page_url), updated_at: now().toISOString(), files };
    queue = queue.catch(() => undefined).then(() => writeManifest(rawDir, manifest));
    return queue;
  };
  if (changed) await save();
  return {
    find: (url) => [...byPath.values()].find((entry) => entry.url === stripCredentials(url)),
    forget: (relativePath) => (byPath.delete(relativePath) ? save() : Promise.resolve()),
    record: (entry) => {
      const url = stripCredentials(entry.url);
      for (const [listed, other] of byPath) if (other.url === url) byPath.delete(listed); // one entry per URL too
      byPath.set(entry.path, { ...entry, url });
      return save();
    },
    save,
  };
}

/**
 * A manifest entry as a record: its path must be relative, in `/`-separated segments, none empty, `.` or
 * `..`, and resolve (symlinks included) inside the dataset's raw folder. `index` is its place in `files`.
 */
export interface RawEntryRef {
  rawDir: string;
  entry: { path: unknown; bytes: number; sha256: string };
  index: number;
}

function entryField({ rawDir, entry, index }: RawEntryRef): RecordField {
  return {
    record: manifestPath(rawDir),
    field: `files[${index}].path`,
    value: String(entry.path),
    hint: 'run `etl extract` for this dataset again: it drops manifest entries that do not check out and fetches their files anew',
  };
}

/** The segments of an entry's path, refused unless it is a path etl writes: relative, `/`-separated, no empty, `.` or `..` segment. */
function entrySegments(ref: RawEntryRef): string[] {
  const relative = ref.entry.path;
  const segments = typeof relative === 'string' ? relative.split('/') : [];
  if (segments.length === 0 || segments.some((part) => part === '' || part === '.' || part === '..' || part.includes('\\') || part.includes('\0'))) {
    const where = entryField(ref);
    throw new UntrustedPathError(`${where.record}: ${where.field} ${JSON.stringify(relative) ?? String(relative)} is not a relative path inside the raw folder`, { hint: where.hint });
  }
  return segments;
}

/** The real path of an entry's file, refused (exit 4, naming the entry) when the path is not one etl writes or leads outside the raw folder. */
export async function resolveRawEntry(ref: RawEntryRef): Promise<string> {
  return resolveInside(ref.rawDir, path.join(ref.rawDir, ...entrySegments(ref)), entryField(ref));
}

/** The entry's bytes, read once: refused unless they are the bytes (size and sha256) the manifest lists. */
export async function readRawEntry(ref: RawEntryRef): Promise<Buffer> {
  return readRecordedFile(await resolveRawEntry(ref), ref.entry, entryField(ref));
}

/** The real path of the entry's file once its bytes are checked against the manifest, for readers that open the file themselves. */
export async function checkRawEntry(ref: RawEntryRef): Promise<string> {
  const file = await resolveRawEntry(ref);
  await checkRecordedFile(file, ref.entry, entryField(ref));
  return file;
}

/** True when the entry's file is on disk, inside the raw folder, with the bytes the manifest lists. */
export async function entryMatches(ref: RawEntryRef, log?: Logger): Promise<boolean> {
  try {
    await checkRawEntry(ref);
    return true;
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    // A changed or missing file is ordinary (it is fetched again); a path leading elsewhere is worth saying.
    if (error instanceof UntrustedPathError) log?.warn(`${error.message}; the entry is dropped`);
    return false;
  }
}

/**
 * Records fresh answers in the manifest: each replaces an earlier entry with the same key, and earlier
 * entries that `replaces` picks (a whole earlier snapshot, the pages of a re-fetched chunk) go too,
 * their files removed once the new manifest is in place.
 */
export async function recordResponses(
  rawDir: string,
  ids: { source: string; dataset: string },
  fresh: readonly ResponseEntry[],
  options: { now: Date; log: Logger; replaces: (earlier: ResponseEntry) => boolean },
): Promise<ResponseManifest> {
  const previous = await readManifest<ResponseManifest>(rawDir, options.log);
  const earlier = previous?.files ?? [];
  const entries = new Map(earlier.filter((entry) => !options.replaces(entry)).map((entry) => [entry.key, entry]));
  for (const entry of fresh) entries.set(entry.key, entry);
  const manifest: ResponseManifest = {
    ...ids,
    updated_at: options.now.toISOString(),
    files: [...entries.values()].sort((a, b) => a.path.localeCompare(b.path)),
  };
  await writeManifest(rawDir, manifest);
  // Only once the new manifest is in place, so the manifest never names a file that is gone.
  const kept = new Set(manifest.files.map((entry) => entry.path));
  for (const [index, old] of earlier.entries()) if (!kept.has(old.path)) await removeRawEntry({ rawDir, entry: old, index }, options.log);
  return manifest;
}

/**
 * Deletes an entry's file, but only one inside the raw folder: the folder holding it must resolve inside,
 * and the name itself is unlinked, so a symlink is removed, never what it points to.
 */
async function removeRawEntry(ref: RawEntryRef, log: Logger): Promise<void> {
  try {
    const parts = entrySegments(ref);
    const folder = parts.length === 1 ? await realpath(ref.rawDir) : await resolveInside(ref.rawDir, path.join(ref.rawDir, ...parts.slice(0, -1)), entryField(ref));
    await unlink(path.join(folder, parts.at(-1)!)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  } catch (error) {
    log.warn(`${errorMessage(error)}; not removed`);
  }
}
