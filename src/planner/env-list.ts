/**
 * The environment of a build state, as BuildKit's `llb.EnvList` keeps it: ordered, and setting a name again
 * removes the old entry and appends the new one. That order is what a RUN's environment (and its cache key)
 * sees, so it is kept exactly.
 */
import type { KeyValue } from './types';

export class EnvList {
  private entries: KeyValue[];

  constructor(entries: readonly KeyValue[] = []) {
    this.entries = entries.map((e) => ({ ...e }));
  }

  /** `KEY=VALUE` strings as an image config holds them; an entry without `=` sets an empty value. */
  static fromSlice(list: readonly string[]): EnvList {
    const env = new EnvList();
    for (const item of list) {
      const eq = item.indexOf('=');
      env.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
    }
    return env;
  }

  get(key: string): string | undefined {
    return this.entries.find((e) => e.key === key)?.value;
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  set(key: string, value: string): void {
    this.entries = this.entries.filter((e) => e.key !== key);
    this.entries.push({ key, value });
  }

  /** A copy, for a snapshot that later changes must not touch. */
  toArray(): KeyValue[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** The lookup table the shell lexer expands against. */
  toMap(): Map<string, string> {
    return new Map(this.entries.map((e) => [e.key, e.value]));
  }

  clone(): EnvList {
    return new EnvList(this.entries);
  }
}
