import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { median, round, type Run } from './measure.js';

/**
 * `npm run bench -- --baseline <git-ref>`: the ref is built in a temporary worktree and both builds run the
 * same scenarios on the same inputs, alternating run by run, so a machine that slows down part-way slows
 * both. Each build is driven through its own CLI (bin/etl.js), so a change of layout inside src/ between
 * the two does not matter.
 */
export interface Baseline {
  ref: string;
  /** The baseline's bin/etl.js. */
  etl: string;
  remove(): Promise<void>;
}

function git(repo: string, args: string[]): string {
  const result = spawnSync('git', args, { cwd: repo, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd} failed:\n${(result.stderr || result.stdout).slice(-2000)}`);
}

/**
 * Checks out `ref` in a temp worktree and builds it: node_modules is this checkout's (a symlink) when
 * package-lock.json is the same, else installed there with `npm ci --prefer-offline`.
 */
export async function prepareBaseline(repo: string, ref: string, log: (line: string) => void): Promise<Baseline> {
  const commit = git(repo, ['rev-parse', '--verify', `${ref}^{commit}`]);
  const parent = await mkdtemp(path.join(os.tmpdir(), 'etl-bench-baseline-'));
  const dir = path.join(parent, 'etl');
  git(repo, ['worktree', 'add', '--detach', dir, commit]);
  const remove = async (): Promise<void> => {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: repo });
    await rm(parent, { recursive: true, force: true });
    spawnSync('git', ['worktree', 'prune'], { cwd: repo });
  };
  try {
    const sameLock = (await readFile(path.join(repo, 'package-lock.json'), 'utf8')) === (await readFile(path.join(dir, 'package-lock.json'), 'utf8').catch(() => ''));
    const started = performance.now();
    if (sameLock && existsSync(path.join(repo, 'node_modules'))) {
      await symlink(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      run('npm', ['run', 'build', '--silent'], dir);
      log(`  baseline ${ref} (${commit.slice(0, 7)}): same package-lock, node_modules linked; built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } else {
      // `npm ci` builds too (prepare).
      run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
      log(`  baseline ${ref} (${commit.slice(0, 7)}): package-lock differs, npm ci and build in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    return { ref: `${ref} (${commit.slice(0, 7)})`, etl: path.join(dir, 'bin', 'etl.js'), remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface PairedResult {
  scenario: string;
  runs: number;
  newWallS: number;
  oldWallS: number;
  /** new/old wall time, run pair by run pair: median, min and max. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  newPeakRssMb: number | null;
  oldPeakRssMb: number | null;
  rssRatio: number | null;
  /** What went past REGRESSION_RATIO: 'time', 'memory', both, or nothing. */
  regression: string[];
}

/** A ratio (new/old) past this on any scenario is reported as a regression. */
export const REGRESSION_RATIO = 1.15;

/**
 * Runs `once(etl)` for the new and the old CLI in turn, `runs` pairs after one unmeasured warm-up of
 * each, alternating which goes first, and compares them pair by pair.
 */
export async function measurePaired(scenario: string, runs: number, etls: { new: string; old: string }, once: (etl: string) => Promise<Run>): Promise<PairedResult> {
  await once(etls.new);
  await once(etls.old);
  const pairs: Array<{ new: Run; old: Run }> = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      const fresh = await once(etls.new);
      pairs.push({ new: fresh, old: await once(etls.old) });
    } else {
      const old = await once(etls.old);
      pairs.push({ old, new: await once(etls.new) });
    }
  }
  const ratios = pairs.map((pair) => pair.new.wallMs / pair.old.wallMs);
  const rss = (side: 'new' | 'old'): number | null => (pairs.every((pair) => pair[side].peakRssMb !== null) ? round(median(pairs.map((pair) => pair[side].peakRssMb!)), 1) : null);
  const newRss = rss('new');
  const oldRss = rss('old');
  const ratio = round(median(ratios), 2);
  const result: PairedResult = {
    scenario,
    runs,
    newWallS: round(median(pairs.map((pair) => pair.new.wallMs)) / 1000, 3),
    oldWallS: round(median(pairs.map((pair) => pair.old.wallMs)) / 1000, 3),
    ratio,
    ratioMin: round(Math.min(...ratios), 2),
    ratioMax: round(Math.max(...ratios), 2),
    newPeakRssMb: newRss,
    oldPeakRssMb: oldRss,
    rssRatio: newRss !== null && oldRss !== null ? round(newRss / oldRss, 2) : null,
    regression: [],
  };
  if (ratio > REGRESSION_RATIO) result.regression.push('time');
  if (result.rssRatio !== null && result.rssRatio > REGRESSION_RATIO) result.regression.push('memory');
  process.stdout.write(`  ${scenario}: new/old ${ratio.toFixed(2)} (${result.ratioMin.toFixed(2)}-${result.ratioMax.toFixed(2)}), peak RSS ${newRss ?? 'n/a'} vs ${oldRss ?? 'n/a'} MB${result.regression.length > 0 ? ` REGRESSION (${result.regression.join(', ')})` : ''}\n`);
  return result;
}
