/**
 * The load contract: a destination is a Sink with two methods. Everything else (walking inputs, keys,
 * skip-if-same, concurrency, retries, summary) lives once in src/load/load-files.ts.
 */

/** A local file ready to upload, hashed once before any request. */
export interface LocalFile {
  path: string;
  size: number;
  /** Hex digests: sha256 is what etl records on the object, md5 what most stores compute themselves. */
  sha256: string;
  md5: string;
}

/** Recorded on every object so a later run can tell whether it already holds these bytes. */
export interface ObjectMetadata {
  sha256: string;
  source: string;
  etl_version: string;
}

export interface StoredObject {
  size: number;
  /** The sha256 etl recorded (or, for local files, recomputed); undefined when something else wrote it. */
  sha256: string | undefined;
}

export interface UploadRequest {
  file: LocalFile;
  key: string;
  contentType: string;
  metadata: ObjectMetadata;
  /** Called with the bytes of this file sent so far; for progress only. */
  onProgress(bytesSent: number): void;
}

/** How an upload went, for the summary and --json. */
export interface UploadReceipt {
  method: 'single-request' | 'multipart' | 'resumable' | 'file-copy' | 'copy';
  /** Requests or parts the bytes went in (multipart: the part count). */
  parts: number;
  /** What was compared with the local file, e.g. "md5 (store)". */
  verifiedWith: string;
}

export interface Sink {
  /** What the destination holds at `key`, or null when nothing is there. */
  stat(key: string): Promise<StoredObject | null>;
  /**
   * Uploads and resolves only after the store's own checksum matched the local file. On a mismatch it
   * removes what it wrote, so nothing corrupt is left looking valid, and throws an UploadError.
   */
  upload(request: UploadRequest): Promise<UploadReceipt>;
}
