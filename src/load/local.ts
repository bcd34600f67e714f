import { createReadStream, createWriteStream } from 'node:fs';
import { stat as statFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sweepDeadTempFiles, withAtomicFile } from '../core/atomic-file.js';
import { errorMessage } from '../core/errors.js';
import type { Sink } from '../core/sink.js';
import type { Destination } from './destination.js';
import { hashLocalFile } from './input-files.js';
import { UploadError } from './upload-error.js';

/**
 * A directory as a bucket. A file has no metadata to hold a sha256, so stat() hashes what is there; the
 * copy goes to a temp file that is hashed again before the rename, so a bad copy never takes the name.
 */
export function createLocalSink(destination: Destination): Sink {
  const pathOf = (key: string): string => path.join(destination.bucket, destination.prefix, ...key.split('/'));
  /** Folders already cleared of temp files a killed earlier run left (they are never read, but they take space). */
  const swept = new Set<string>();

  return {
    async stat(key) {
      const target = pathOf(key);
      try {
        if (!(await statFile(target)).isFile()) return null;
        const { size, sha256 } = await hashLocalFile(target);
        return { size, sha256 };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw describeFsError(error as NodeJS.ErrnoException, target, destination.bucket);
      }
    },

    async upload({ file, key, onProgress }) {
      const target = pathOf(key);
      try {
        if (!swept.has(path.dirname(target))) {
          swept.add(path.dirname(target));
          await sweepDeadTempFiles(path.dirname(target));
        }
        await withAtomicFile(target, async (temp) => {
          let copied = 0;
          const count = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              copied += chunk.length;
              onProgress(copied);
              callback(null, chunk);
            },
          });
          await pipeline(createReadStream(file.path), count, createWriteStream(temp));
          const landed = await hashLocalFile(temp);
          if (landed.sha256 !== file.sha256) {
            throw new UploadError(`copy of ${file.path} to ${target} has sha256 ${landed.sha256}, expected ${file.sha256}`, {
              recovery: 'file',
              hint: 'the source file changed while copying, or the disk is failing: run again',
            });
          }
        });
      } catch (error) {
        throw error instanceof UploadError ? error : describeFsError(error as NodeJS.ErrnoException, target, destination.bucket);
      }
      return { method: 'file-copy', parts: 1, verifiedWith: 'sha256 (re-read)' };
    },
  };
}

/** Whole-destination failures stop the run; a clash below the root (a file where a folder should be) fails one file. */
function describeFsError(error: NodeJS.ErrnoException, target: string, root: string): UploadError {
  const atRoot = error.path !== undefined && path.resolve(root).startsWith(path.resolve(error.path));
  const destinationWide = ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'].includes(error.code ?? '') || atRoot;
  const noSpace = error.code === 'ENOSPC' || error.code === 'EDQUOT';
  return new UploadError(noSpace ? `no space left on the device holding ${root} (writing ${target}; the partial copy was removed)` : `cannot write ${target}: ${errorMessage(error)}`, {
    recovery: destinationWide ? 'destination' : 'file',
    cause: error,
    hint: destinationWide ? 'check that the destination is a writable directory with space left' : undefined,
  });
}
