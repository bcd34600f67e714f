/** Runs `work` over `items` with at most `limit` in flight; results keep input order. */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** What mapUntilFailure did: the results of the items that completed (input order), and the first failure. */
export interface PartialMap<R> {
  done: R[];
  failure?: { error: unknown };
}

/**
 * mapWithLimit that stops at the first failure: no item starts after it, and the items in flight are told
 * through `signal` (aborted with that first error) to give up at once, without retrying. Resolves once
 * nothing is left in flight, so the caller can record what did complete before it throws `failure.error`.
 */
export async function mapUntilFailure<T, R>(items: readonly T[], limit: number, work: (item: T, index: number, signal: AbortSignal) => Promise<R>): Promise<PartialMap<R>> {
  const controller = new AbortController();
  const results: Array<{ value: R } | undefined> = [];
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = { value: await work(items[index] as T, index, controller.signal) };
      } catch (error) {
        // Later failures are mostly the cancellation itself: the first one is the cause.
        if (failure === undefined) {
          failure = { error };
          controller.abort(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const done = results.flatMap((result) => (result ? [result.value] : []));
  return failure ? { done, failure } : { done };
}

/** Waits `ms`; an aborted `signal` ends the wait at once, rejecting with its reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
