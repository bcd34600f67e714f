import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { median, round, summarise, type Measurer, type Run } from './measure.js';

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
  /** Synchronous, so that it can run on the process's exit, whatever ended the bench. */
  remove(): void;
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
  const remove = (): void => {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: repo });
    rmSync(parent, { recursive: true, force: true });
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
    remove();
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

/** The old build's CLI failed on a scenario: the scenario is not comparable, the bench goes on. */
class BaselineFailed extends Error {
  constructor(
    readonly reason: string,
    /** This checkout's runs so far (at least the warm-up). */
    readonly newRuns: Run[],
  ) {
    super(reason);
  }
}

/**
 * Runs `once(etl)` for the new and the old CLI in turn, `runs` pairs after one unmeasured warm-up of
 * each, alternating which goes first, and compares them pair by pair. Throws BaselineFailed when the old CLI fails.
 */
export async function measurePaired(scenario: string, runs: number, etls: { new: string; old: string }, once: (etl: string) => Promise<Run>): Promise<{ result: PairedResult; newRuns: Run[] }> {
  const newRuns: Run[] = [];
  const fresh = async (): Promise<Run> => {
    const run = await once(etls.new);
    newRuns.push(run);
    return run;
  };
  const old = (): Promise<Run> =>
    once(etls.old).catch((error: unknown) => {
      // runProcess's message ends with the process's stderr: its last line says why (say, an unknown command or option).
      const lines = (error instanceof Error ? error.message : String(error)).trim().split('\n');
      throw new BaselineFailed(lines.at(-1)!.trim(), newRuns);
    });
  await fresh();
  await old();
  newRuns.length = 0;
  const pairs: Array<{ new: Run; old: Run }> = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      const first = await fresh();
      pairs.push({ new: first, old: await old() });
    } else {
      const first = await old();
      pairs.push({ old: first, new: await fresh() });
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
  return { result, newRuns };
}

/** A scenario asked for but not compared with the baseline, and why. */
export interface NotPaired {
  scenario: string;
  reason: string;
}

/**
 * The Measurer of a --baseline run: every scenario whose etl side is a CLI process is paired (`measurePaired`);
 * peers are left out and listed. The Result each scenario gets back is this checkout's side, for the scenario's own
 * checks; the report is `paired` and `notPaired`.
 */
export function pairedMeasurer(etls: { new: string; old: string }, paired: PairedResult[], notPaired: NotPaired[]): Measurer {
  return {
    async cli(scenario, detail, options, once) {
      try {
        const { result, newRuns } = await measurePaired(scenario, options.runs, etls, once);
        paired.push(result);
        return summarise(scenario, detail, options, newRuns);
      } catch (error) {
        if (!(error instanceof BaselineFailed)) throw error;
        notPaired.push({ scenario, reason: `not comparable, the baseline's CLI failed: ${error.reason}` });
        process.stdout.write(`  ${scenario}: not comparable, the baseline's CLI failed: ${error.reason}\n`);
        return summarise(scenario, detail, options, error.newRuns);
      }
    },
    runPeer(scenario) {
      notPaired.push({ scenario, reason: 'a peer, the same for both builds' });
      return false;
    },
  };
}
