/**
 * Why did a step miss? The answer compares the step's key inputs with the inputs the same step had in the previous
 * build of this Dockerfile and names the first cause in words: an instruction edit, a build arg, the files that
 * changed (added / removed / content / mode) — a COPY's or a RUN bind mount's —, the source of a bind mount, the
 * base image, or a parent step that missed.
 */
import type { JsonValue } from '../store/canonical-json';
import type { FileInput, StepInputs } from './step-key';

export interface PreviousStep {
  inputs: StepInputs;
  files?: FileInput[];
}

export interface ExplainContext {
  current: StepInputs;
  currentFiles?: FileInput[];
  previous: PreviousStep | undefined;
  /** True when the step before this one missed in this build. */
  parentMissed: boolean;
  /** True for the first step of a stage (its parent is the base image). */
  isFirstStep: boolean;
  /**
   * True when the step stands on the base through linked COPY/ADD layers alone (`COPY --link`), and the base
   * changed: its parent is the merge of the two, so the base is the cause.
   */
  baseChangedBelowLinks?: boolean;
  noCache: boolean;
  /** What the first step stands on, for messages: `image alpine:3.20`, `stage build`, `scratch`. */
  baseLabel?: string;
}

const MAX_LISTED = 5;
/** How much of a changed value a cause shows. */
const MAX_VALUE = 60;

export function explainMiss(ctx: ExplainContext): string {
  if (ctx.noCache) return '--no-cache';
  const prev = ctx.previous;
  if (!prev) return 'no earlier build of this step';
  const cur = ctx.current;

  if (prev.inputs.op.instruction !== cur.op.instruction) {
    return (
      describeKeyValueEdit(prev.inputs.op, cur.op) ??
      `instruction changed: \`${prev.inputs.op.instruction}\` → \`${cur.op.instruction}\``
    );
  }
  const own: string[] = [];
  const argChanges = diffMaps(prev.inputs.args ?? {}, cur.args ?? {});
  for (const [name, before, after] of argChanges) {
    own.push(`build arg ${name} changed ${show(before)} → ${show(after)}`);
  }
  if (own.length === 0 && !sameJson(prev.inputs.op, cur.op))
    own.push(describeOpChange(prev.inputs.op, cur.op));
  if (prev.inputs.filesDigest !== cur.filesDigest && cur.filesDigest !== undefined) {
    own.push(describeFileChanges(prev.files, ctx.currentFiles));
  }
  if (own.length > 0) return own.join('; ');

  if (prev.inputs.parent !== cur.parent) {
    if (ctx.isFirstStep) {
      const base = ctx.baseLabel ?? 'base image';
      return `${base} changed: ${short(prev.inputs.parent)} → ${short(cur.parent)}`;
    }
    if (ctx.baseChangedBelowLinks) return `${ctx.baseLabel ?? 'base image'} changed below the linked layers`;
    return ctx.parentMissed ? 'parent step missed' : 'parent step changed';
  }
  return 'inputs unchanged, but the cache record is gone (pruned or never stored)';
}

/** The key-value lists of LABEL and ENV: an edit of their values is named by key (`LABEL version 1.2 → 1.3`). */
const KEY_VALUE_LISTS: Record<string, string> = { label: 'labels', env: 'vars' };

/**
 * An edited LABEL or ENV whose keys stayed the same, named by the keys whose values changed; undefined for any
 * other edit (the whole instruction is shown then).
 */
function describeKeyValueEdit(before: StepInputs['op'], after: StepInputs['op']): string | undefined {
  const kind = typeof after.kind === 'string' ? after.kind : undefined;
  const field = kind === undefined ? undefined : KEY_VALUE_LISTS[kind];
  if (field === undefined || before.kind !== after.kind) return undefined;
  const was = pairs(before[field]);
  const now = pairs(after[field]);
  if (was === undefined || now === undefined || was.length !== now.length) return undefined;
  if (was.some(([k], i) => now[i]?.[0] !== k)) return undefined;
  const changed: [string, string, string | undefined][] = [];
  was.forEach(([k, v], n) => {
    const w = now[n]?.[1];
    if (w !== v) changed.push([k, v, w]);
  });
  if (changed.length === 0) return undefined;
  const word = kind === 'label' ? 'LABEL' : 'ENV';
  return changed.map(([k, v, w]) => `${word} ${k} ${show(cut(v))} → ${show(cut(w))}`).join(', ');
}

/** `[{ key, value }, …]` as [key, value] pairs; undefined when it is not such a list. */
function pairs(v: JsonValue | undefined): [string, string][] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: [string, string][] = [];
  for (const item of v) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
    if (typeof item.key !== 'string' || typeof item.value !== 'string') return undefined;
    out.push([item.key, item.value]);
  }
  return out;
}

function describeOpChange(before: StepInputs['op'], after: StepInputs['op']): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = keys.filter((k) => !sameJson(before[k], after[k]));
  // COPY --from=stage: only the source stage's result changed, which says more than the key's field name.
  if (changed.length === 1 && changed[0] === 'fromKey') {
    return `the --from source changed: ${short(String(before.fromKey))} → ${short(String(after.fromKey))}`;
  }
  // RUN --mount=type=bind,from=…: the source stage or image changed, by mount target.
  if (changed.length === 1 && changed[0] === 'mountSources') {
    const was = asStrings(before.mountSources);
    const now = asStrings(after.mountSources);
    const targets = [...new Set([...Object.keys(was), ...Object.keys(now)])].sort();
    const moved = targets
      .filter((t) => was[t] !== now[t])
      .map((t) => `${t} ${short(was[t] ?? '(none)')} → ${short(now[t] ?? '(none)')}`);
    return `the source of a bind mount changed: ${moved.join(', ')}`;
  }
  // A heredoc's body also changes the command made of it: the heredoc says which line, the command says nothing more.
  const derived = changed.includes('heredocs') ? new Set(['argv', 'command']) : new Set<string>();
  const parts = changed.filter((k) => !derived.has(k)).map((k) => describeField(k, before[k], after[k]));
  return `settings changed: ${parts.join(', ')}`;
}

/** One changed field of a step's op, by name: the environment by variable, heredocs by body line, others by value. */
function describeField(key: string, before: JsonValue | undefined, after: JsonValue | undefined): string {
  if (key === 'env') {
    const changes = diffMaps(keyValues(before), keyValues(after));
    return changes.map(([name, was, now]) => `env ${name} ${show(cut(was))} → ${show(cut(now))}`).join(', ');
  }
  if (key === 'heredocs') {
    const was = heredocBodies(before);
    const now = heredocBodies(after);
    const names = [...new Set([...was.keys(), ...now.keys()])].filter((n) => was.get(n) !== now.get(n));
    return names.map((n) => describeHeredoc(n, was.get(n), now.get(n))).join(', ');
  }
  return `${key} ${cut(show(JSON.stringify(before ?? null)))} → ${cut(show(JSON.stringify(after ?? null)))}`;
}

function describeHeredoc(name: string, was: string | undefined, now: string | undefined): string {
  if (was === undefined) return `heredoc ${name} added`;
  if (now === undefined) return `heredoc ${name} removed`;
  const a = was.split('\n');
  const b = now.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `heredoc ${name} line ${i + 1}: ${show(cut(a[i]))} → ${show(cut(b[i]))}`;
}

/** `["K=V", …]` (a RUN's environment) as a map. */
function keyValues(v: JsonValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (const item of v) {
    if (typeof item !== 'string') continue;
    const eq = item.indexOf('=');
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** A step's heredocs by name: their bodies as the command receives them. */
function heredocBodies(v: JsonValue | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(v)) return out;
  for (const h of v) {
    if (h === null || typeof h !== 'object' || Array.isArray(h)) continue;
    if (typeof h.name === 'string' && typeof h.content === 'string') out.set(h.name, h.content);
  }
  return out;
}

/** Long values are cut: the cause must fit on a line. */
function cut(v: string | undefined, max = MAX_VALUE): string | undefined {
  return v === undefined || v.length <= max ? v : `${v.slice(0, max - 1)}…`;
}

function describeFileChanges(before: FileInput[] | undefined, after: FileInput[] | undefined): string {
  if (!before || !after) return 'source files changed';
  const old = new Map(before.map((f) => [f[0], f]));
  const now = new Map(after.map((f) => [f[0], f]));
  const changes: string[] = [];
  for (const [p, f] of now) {
    const o = old.get(p);
    if (!o) changes.push(`${p} (added)`);
    else if (o[1] !== f[1]) changes.push(`${p} (type ${o[1]} → ${f[1]})`);
    else if (o[7] !== f[7] || o[5] !== f[5]) changes.push(`${p} (content)`);
    else if (o[2] !== f[2]) changes.push(`${p} (mode ${octal(o[2])} → ${octal(f[2])})`);
    else if (o[3] !== f[3] || o[4] !== f[4]) changes.push(`${p} (owner ${o[3]}:${o[4]} → ${f[3]}:${f[4]})`);
    else if (o[6] !== f[6]) changes.push(`${p} (link target)`);
  }
  for (const p of old.keys()) if (!now.has(p)) changes.push(`${p} (removed)`);
  if (changes.length === 0) return 'source files changed';
  const listed = changes.slice(0, MAX_LISTED).join(', ');
  const more = changes.length > MAX_LISTED ? `, and ${changes.length - MAX_LISTED} more` : '';
  return `${changes.length} file${changes.length === 1 ? '' : 's'} changed: ${listed}${more}`;
}

function asStrings(v: JsonValue | undefined): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}

function diffMaps(
  a: Record<string, string>,
  b: Record<string, string>,
): [string, string | undefined, string | undefined][] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.filter((n) => a[n] !== b[n]).map((n) => [n, a[n], b[n]]);
}

function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function show(v: string | undefined): string {
  return v === undefined ? '(unset)' : v === '' ? '""' : v;
}

function short(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(0, 19) : digest;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}
