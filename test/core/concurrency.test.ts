import { describe, expect, it } from 'vitest';
import { mapUntilFailure, sleep } from '../../src/core/concurrency.js';

describe('mapUntilFailure', () => {
  it('at the first failure starts nothing more, aborts the items in flight with that error, and returns what completed', async () => {
    const started: number[] = [];
    const signals: AbortSignal[] = [];
    const boom = new Error('item 2 failed');
    const outcome = await mapUntilFailure([0, 1, 2, 3, 4, 5], 3, async (item, index, signal) => {
      started.push(index);
      signals.push(signal);
      if (item === 0) return 'zero';
      if (item === 2) {
        await sleep(20);
        throw boom;
      }
      await sleep(5_000, signal); // a slow item: ends only when aborted
      return 'slow';
    });
    // 0 completes at once and its worker takes 3; 1 and 3 are in flight when 2 fails; 4 and 5 never start.
    expect(started).toEqual([0, 1, 2, 3]);
    expect(outcome).toEqual({ done: ['zero'], failure: { error: boom } });
    expect(signals.every((signal) => signal.aborted && signal.reason === boom)).toBe(true);
  });

  it('without a failure is mapWithLimit: every result, in input order', async () => {
    expect(await mapUntilFailure([30, 10, 20], 2, async (ms, index) => (await sleep(ms), index))).toEqual({ done: [0, 1, 2] });
    expect(await mapUntilFailure([], 4, async () => 1)).toEqual({ done: [] });
  });
});

describe('sleep', () => {
  it('an aborted signal ends the wait at once with its reason', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await expect(sleep(10_000, controller.signal)).rejects.toThrow('stop');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
