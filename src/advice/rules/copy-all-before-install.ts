/**
 * `CopyAllBeforeInstall`: a dependency install (`npm ci`, `pip install -r …`, `go mod download`…) that runs after
 * the whole context was copied (`COPY . .`, `ADD . …`, in its stage or a stage it is built FROM), when the install
 * was not already run on the manifests alone before that copy. Any edit in the context then re-runs the install.
 */
import type { Stage } from '../../planner/types';
import { copiesWholeContext, lineIn, quote, stepFinding } from '../finding';
import { copiesManifest, installOf, type Install } from '../installs';
import { runCommands } from '../shell-commands';
import type { AdviceInput, Finding, Rule } from '../types';

interface ContextCopy {
  stage: Stage;
  line: number;
  text: string;
  paths: string[];
}

/** What a stage's steps did so far, as far as this rule cares; a stage built FROM another starts with its state. */
interface State {
  /** The first COPY/ADD of the whole context. */
  whole?: ContextCopy;
  /** The context COPYs before it. */
  early: ContextCopy[];
  /** Ecosystems installed before the whole context came in (the manifests-first order, already followed). */
  installedEarly: Set<string>;
  /** Ecosystems already reported in this chain. */
  reported: Set<string>;
}

export const copyAllBeforeInstall: Rule = {
  name: 'CopyAllBeforeInstall',
  why: 'the install runs on a layer holding the whole context, so every source edit re-runs it (and re-downloads the dependencies)',
  check({ plan }: AdviceInput): Finding[] {
    const out: Finding[] = [];
    const ends = new Map<number, State>();
    for (const stage of plan.stages) {
      const inherited = stage.base.kind === 'stage' ? ends.get(stage.base.index) : undefined;
      const state: State = {
        whole: inherited?.whole,
        early: [...(inherited?.early ?? [])],
        installedEarly: new Set(inherited?.installedEarly),
        reported: new Set(inherited?.reported),
      };
      stage.steps.forEach((step, i) => {
        if (step.kind === 'copy' || step.kind === 'add') {
          if (step.from !== undefined) return;
          const copy: ContextCopy = {
            stage,
            line: step.line,
            text: quote(step),
            paths: step.sources.flatMap((s) => (s.kind === 'path' ? [s.path] : [])),
          };
          if (copiesWholeContext(step)) state.whole ??= copy;
          else if (state.whole === undefined) state.early.push(copy);
          return;
        }
        if (step.kind !== 'run') return;
        for (const words of runCommands(step)) {
          const install = installOf(words);
          if (install === undefined) continue;
          const id = install.ecosystem.id;
          if (state.whole === undefined) {
            state.installedEarly.add(id);
            continue;
          }
          if (state.installedEarly.has(id) || state.reported.has(id) || step.fromOnBuild) continue;
          state.reported.add(id);
          out.push(
            stepFinding(copyAllBeforeInstall, stage, i, message(install, state.whole, state.early, stage)),
          );
        }
      });
      ends.set(stage.index, state);
    }
    return out;
  },
};

function message(install: Install, whole: ContextCopy, early: readonly ContextCopy[], here: Stage): string {
  const after = `${install.label} installs dependencies after ${whole.text} (${lineIn(whole.line, whole.stage, here)})`;
  const manifestCopy = early.find((c) => c.paths.some((p) => copiesManifest(p, install)));
  const then = `then install, then ${whole.text}`;
  if (manifestCopy !== undefined) {
    return (
      `${after}, though ${manifestCopy.text} (${lineIn(manifestCopy.line, manifestCopy.stage, here)}) ` +
      `brought the manifests in first: run the install right after that COPY, ${then}`
    );
  }
  const shown = install.files.length > 0 ? install.files.join(', ') : install.ecosystem.shown;
  return `${after}: copy the manifests (${shown}) first, ${then}`;
}
