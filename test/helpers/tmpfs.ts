import { execFileSync } from 'node:child_process';

/**
 * A tmpfs mounted at `dir` (`size=4m`, `ro`…): a small or read-only disk for a destination, as a real full or
 * read-only volume behaves. Needs root (mount); returns why not when it cannot, for the test to skip with that.
 */
export function mountTmpfs(dir: string, options: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (${String((error as Error).message).split('\n')[0]})`;
  }
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir]);
}
