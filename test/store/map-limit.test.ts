import { mapLimit } from '../../src/store/map-limit';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('mapLimit', () => {
  it('keeps the results in input order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
    expect(most).toBe(2);
  });

  it('starts nothing after a failure, waits for what is in flight, and rejects with the first failure', async () => {
    const started: number[] = [];
    const slow = deferred();
    let slowFinished = false;
    const call = mapLimit([0, 1, 2, 3], 2, async (n) => {
      started.push(n);
      if (n === 0) {
        await slow.promise;
        slowFinished = true;
        return n;
      }
      throw new Error(`item ${n} failed`);
    });
    let settled = false;
    void call.catch(() => undefined).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 10));
    // Item 1 failed while item 0 was still running: the call has not settled yet, and nothing new started.
    expect(settled).toBe(false);
    expect(started).toEqual([0, 1]);
    slow.resolve();
    await expect(call).rejects.toThrow('item 1 failed');
    expect(slowFinished).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('returns an empty list for no items', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
