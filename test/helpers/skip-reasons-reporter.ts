import type { Reporter, TestModule } from 'vitest/node';

/** Tests that cannot run here are named `skipped: <why>` (see load-contract.test.ts); this is the prefix. */
const REASON_PREFIX = 'skipped: ';

/**
 * Prints, after vitest's own summary, why tests were skipped, so a suite that passed without running a
 * destination says so in its last lines and not only in verbose output.
 */
export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = new Map<string, number>();
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        if (!test.name.startsWith(REASON_PREFIX)) continue;
        const reason = test.name.slice(REASON_PREFIX.length);
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
    }
    if (counts.size === 0) return;
    const lines = [...counts].map(([reason, count]) => `  ${count} skipped suite${count === 1 ? '' : 's'}: ${reason}`);
    process.stdout.write(`\nNot tested on this machine:\n${lines.join('\n')}\n\n`);
  }
}
