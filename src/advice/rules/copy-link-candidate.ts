/**
 * `CopyLinkCandidate`: a COPY without `--link` in a stage FROM an image, where `--link` would let its layer
 * survive a bump of that image. A linked copy is made on an empty filesystem and keyed without the base's layers
 * (BuildKit's COPY --link), so a new base reuses it; without --link, every base bump copies again.
 *
 * Conservative on purpose, it fires only where --link changes nothing but the cache:
 * - the stage after FROM is only copies (WORKDIR and metadata aside) and no stage is built FROM it: no RUN before
 *   or after the copy, so nothing reads its files or writes under them, and a base bump then costs no step at
 *   all — the `FROM nginx` + `COPY --from=build /app/dist …` final stage;
 * - the destination is absolute and not under a directory that distributions make a symlink (`/bin`, `/lib`,
 *   `/var/run`…): a linked copy does not follow the base's symlinks;
 * - no `--chown` by name (that reads the stage's /etc/passwd, which a linked copy does not have) and no
 *   `--chmod` (tsbuild then makes the copy unlinked anyway).
 */
import type { Stage, Step } from '../../planner/types';
import { quote, stepFinding } from '../finding';
import type { AdviceInput, Finding, Rule } from '../types';

/** Directories that are symlinks in common base images (usrmerge, /var/run → /run). */
const SYMLINKED = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/var/run', '/var/lock'];

function underSymlink(dest: string): boolean {
  return SYMLINKED.some((d) => dest === d || dest.startsWith(`${d}/`));
}

const FILESYSTEM_KINDS = new Set(['run', 'copy', 'add', 'workdir']);

function onlyCopies(stage: Stage): boolean {
  return stage.steps.every((s) => !FILESYSTEM_KINDS.has(s.kind) || s.kind === 'copy' || s.kind === 'workdir');
}

function candidate(step: Step): boolean {
  if (step.kind !== 'copy' || step.link || step.fromOnBuild || step.chmod !== undefined) return false;
  if (step.chown !== undefined && !/^\d+(?::\d+)?$/.test(step.chown)) return false;
  return step.dest.startsWith('/') && !underSymlink(step.destPath);
}

export const copyLinkCandidate: Rule = {
  name: 'CopyLinkCandidate',
  why: 'without --link a COPY is keyed on the base image under it, so every bump of that image copies again; a linked copy is reused on any base',
  check({ plan }: AdviceInput): Finding[] {
    const out: Finding[] = [];
    const bases = new Set(plan.stages.flatMap((s) => (s.base.kind === 'stage' ? [s.base.index] : [])));
    for (const stage of plan.stages) {
      if (stage.base.kind !== 'image' || !onlyCopies(stage) || bases.has(stage.index)) continue;
      const base = stage.baseName;
      stage.steps.forEach((step, i) => {
        if (!candidate(step)) return;
        out.push(
          stepFinding(
            copyLinkCandidate,
            stage,
            i,
            `${quote(step)} could be COPY --link: the stage only copies onto ${base}, so its layer ` +
              `would then survive a bump of ${base} instead of being copied again`,
          ),
        );
      });
    }
    return out;
  },
};
