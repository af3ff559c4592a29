/**
 * `--chown` and USER values to numeric ids, as Docker documents: `uid[:gid]` or `name[:group]`, names looked up in
 * the stage's `/etc/passwd` and `/etc/group`; without a group, the gid is the same number as the uid. The files are
 * read from a read-only view of the stage's layers, confined to that root filesystem.
 */
import type { LayerRecord } from '../../image/stored-image';
import { BuildError, type SourceLocation } from '../../errors';
import type { CopyStep } from '../../planner/types';
import type { RootfsViews } from '../rootfs';
import { isLinkedCopy } from '../step-inputs';
import { readGroups, readPasswd } from '../sandbox/accounts';

export interface Owner {
  uid: number;
  gid: number;
}

const NUMERIC = /^\d+$/;

export async function resolveOwner(
  spec: string,
  stage: { layers: readonly LayerRecord[] },
  views: RootfsViews,
): Promise<Owner> {
  const [user, group] = spec.split(':', 2);
  if (NUMERIC.test(user) && (group === undefined || NUMERIC.test(group))) {
    const uid = Number(user);
    return { uid, gid: group === undefined ? uid : Number(group) };
  }
  const rootDir = await views.directory(stage.layers);
  const uid = NUMERIC.test(user) ? Number(user) : await lookup(rootDir, 'passwd', user);
  const gid =
    group === undefined ? uid : NUMERIC.test(group) ? Number(group) : await lookup(rootDir, 'group', group);
  return { uid, gid };
}

/** A uid[:gid] `--chown` needs no lookup in the stage's files. */
const NUMERIC_OWNER = /^\d+(:\d+)?$/;

/** Whether a COPY/ADD's `--chown` is looked up in the stage's `/etc/passwd` and `/etc/group`. */
export function ownerNeedsStageFiles(step: CopyStep): boolean {
  return step.chown !== undefined && !NUMERIC_OWNER.test(step.chown) && !isLinkedCopy(step);
}

/**
 * The owner a COPY/ADD's `--chown` names, if any: looked up in the stage's files, or — for a linked copy, made
 * without them — numeric ids only.
 */
export async function copyOwner(
  step: CopyStep,
  stage: { layers: readonly LayerRecord[] },
  views: RootfsViews,
  location: SourceLocation,
): Promise<Owner | undefined> {
  if (!step.chown) return undefined;
  return isLinkedCopy(step) ? linkedOwner(step.chown, location) : resolveOwner(step.chown, stage, views);
}

/**
 * `--chown` of a linked COPY/ADD: made on an empty filesystem, it has no `/etc/passwd` to look names up in, so only
 * numeric ids and `root` work (BuildKit fails such a build late, with "invalid user index: -1"; this says why, at
 * the step).
 */
function linkedOwner(spec: string, location: SourceLocation): Owner {
  const [user, group] = spec.split(':', 2);
  const id = (name: string): number | undefined =>
    NUMERIC.test(name) ? Number(name) : name === 'root' ? 0 : undefined;
  const uid = id(user);
  const gid = group === undefined ? uid : id(group);
  if (uid === undefined || gid === undefined) {
    throw new BuildError(
      `--link --chown=${spec}: a linked copy is made without the stage's files, so it cannot look up user or group names; use numeric ids (or drop --link)`,
      location,
    );
  }
  return { uid, gid };
}

async function lookup(rootDir: string, file: 'passwd' | 'group', name: string): Promise<number> {
  // No such file: no names can be resolved.
  const id =
    file === 'passwd'
      ? (await readPasswd(rootDir)).find((entry) => entry.name === name)?.uid
      : (await readGroups(rootDir)).find((entry) => entry.name === name)?.gid;
  if (id !== undefined) return id;
  const what = file === 'passwd' ? 'user' : 'group';
  throw new BuildError(`unable to find ${what} ${name}: no matching entries in ${file} file`);
}
