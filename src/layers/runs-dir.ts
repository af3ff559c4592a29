/**
 * `<root>/runs/`: the scratch of each running build (a RUN's overlay rootfs and upper dir, the read-only views of
 * COPY --from and RUN --mount from=), one dir per build named `<pid>-<random>`. A build that is killed leaves its
 * dir behind, mounts included (they live in the host's mount namespace, not the build's); the first process that
 * opens the runs dir afterwards takes them down and removes the dir. Every build opens it as it starts, not only
 * when it has a RUN or a view to make, so an all-hit build after a killed one leaves no stale mount behind.
 */
import * as path from 'node:path';
import { makeTreeParent } from '../store/tree-parent';
import { recoverStaleRuns } from './overlay';

/** Per runs dir, once per process: the dirs of builds that die later are left to the next process. */
const opened = new Map<string, Promise<string>>();

/** The store's runs dir, created and marked for new trees, with what dead builds left in it cleared away. */
export function openRunsDir(root: string): Promise<string> {
  const runs = path.resolve(root, 'runs');
  let done = opened.get(runs);
  if (done === undefined) {
    done = (async () => {
      await makeTreeParent(runs);
      await recoverStaleRuns(runs);
      return runs;
    })();
    opened.set(runs, done);
    // A failed recovery (a mount that will not come down) is tried again by the next caller, not remembered.
    done.catch(() => opened.delete(runs));
  }
  return done;
}
