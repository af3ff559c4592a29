/**
 * Which stages read which (BuildKit's buildStageDependencyGraph): `COPY --from` (a stage name, an index, else an
 * image) and `RUN --mount from=` (a stage name, else an image), then the cycle check and the set of stages the
 * target needs through bases and these edges.
 */
import type { ShellLex } from '../parser/shell/lex';
import type { Command } from './commands';
import { PlanFault } from './fault';
import { goAtoi } from './go';
import { imageRef, type StageHeader } from './stages';
import type { SourceSpan, StageRef } from './types';

/** An edge: this stage reads stage `index` because of the command at `span`. */
export interface Edge {
  index: number;
  span: SourceSpan;
}

/** What `COPY --from=<from>` reads. */
export function copySource(from: string, headers: readonly StageHeader[], lex: ShellLex): StageRef {
  if (lex.processWord(from, new Map()) !== from) {
    throw new PlanFault(
      'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
    );
  }
  const index = goAtoi(from);
  if (index !== undefined) {
    if (index < 0 || index >= headers.length) throw new PlanFault(`invalid stage index ${index}`);
    return { kind: 'stage', index };
  }
  return namedSource(from, headers);
}

/** What `RUN --mount from=<from>` reads: a stage by name only, else an image. */
export function namedSource(from: string, headers: readonly StageHeader[]): StageRef {
  const wanted = from.toLowerCase();
  const stage = headers.find((h) => h.name === wanted);
  if (stage) return { kind: 'stage', index: stage.index };
  if (from === 'scratch') return { kind: 'scratch' };
  return { kind: 'image', ref: from, normalized: imageRef(from) };
}

/** The stages `cmd` reads. */
export function commandEdges(cmd: Command, headers: readonly StageHeader[], lex: ShellLex): Edge[] {
  const refs: StageRef[] = [];
  if (cmd.kind === 'copy' && cmd.from !== '') refs.push(copySource(cmd.from, headers, lex));
  if (cmd.kind === 'run') {
    for (const from of cmd.mountFroms) if (from !== '') refs.push(namedSource(from, headers));
  }
  return refs.flatMap((ref) => (ref.kind === 'stage' ? [{ index: ref.index, span: cmd.span }] : []));
}

/**
 * A cycle through `--from` edges: the stage it starts from and the command that closes it, as BuildKit reports
 * it (`circular dependency detected on stage: NAME`).
 */
export function findCycle(edges: readonly Edge[][]): { stage: number; span: SourceSpan } | undefined {
  const visited = new Set<number>();
  const path = new Set<number>();
  const visit = (stage: number, first: SourceSpan | undefined): SourceSpan | undefined => {
    if (visited.has(stage)) return undefined;
    visited.add(stage);
    path.add(stage);
    for (const edge of edges[stage]) {
      const span = first ?? edge.span;
      if (path.has(edge.index)) return span;
      const found = visit(edge.index, span);
      if (found) return found;
    }
    path.delete(stage);
    return undefined;
  };
  for (let stage = 0; stage < edges.length; stage++) {
    const span = visit(stage, undefined);
    if (span) return { stage, span };
  }
  return undefined;
}

/** The stages `target` needs: itself, its base chain and every stage an edge reaches, transitively. */
export function reachable(
  target: number,
  headers: readonly StageHeader[],
  edges: readonly Edge[][],
): Set<number> {
  const seen = new Set<number>();
  const stack = [target];
  while (stack.length > 0) {
    const i = stack.pop() as number;
    if (seen.has(i)) continue;
    seen.add(i);
    const base = headers[i].base;
    if (base.kind === 'stage') stack.push(base.index);
    for (const edge of edges[i]) stack.push(edge.index);
  }
  return seen;
}
