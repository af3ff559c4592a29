/**
 * Instruction flags (`--from=build`, `--link`), checked the way BuildKit's BFlags does: each instruction declares
 * the flags it takes, and parsing reports an unknown flag (with a suggestion), a repeated one, a missing value or
 * a bad boolean. Values arrive with quotes already removed by the parser.
 */
import { PlanFault } from './fault';
import { withSuggestion } from './suggest';

type FlagKind = 'bool' | 'string' | 'strings';

interface FlagDef {
  kind: FlagKind;
  value: string;
  values: string[];
  used: boolean;
}

export class InstructionFlags {
  private readonly defs = new Map<string, FlagDef>();

  constructor(private readonly args: readonly string[]) {}

  /** Declares a boolean flag (`--link`, `--link=false`). */
  bool(name: string): this {
    this.defs.set(name, { kind: 'bool', value: 'false', values: [], used: false });
    return this;
  }

  /** Declares a flag that takes one value (the last occurrence is an error, not an override). */
  string(name: string, defaultValue = ''): this {
    this.defs.set(name, { kind: 'string', value: defaultValue, values: [], used: false });
    return this;
  }

  /** Declares a flag that may be repeated (`--mount`, `--exclude`). */
  strings(name: string): this {
    this.defs.set(name, { kind: 'strings', value: '', values: [], used: false });
    return this;
  }

  /** Checks the written flags against the declared ones; throws PlanFault with BuildKit's message. */
  parse(): this {
    for (const arg of this.args) {
      if (arg === '--') return this; // POSIX: the end of the flags
      if (!arg.startsWith('--')) throw new PlanFault(`arg should start with -- : ${arg}`);
      const eq = arg.indexOf('=');
      const flagName = eq < 0 ? arg : arg.slice(0, eq);
      const hasValue = eq >= 0;
      const value = hasValue ? arg.slice(eq + 1) : '';
      const name = flagName.slice(2);
      const def = this.defs.get(name);
      if (!def) {
        throw new PlanFault(withSuggestion(`unknown flag: ${flagName}`, name, [...this.defs.keys()], true));
      }
      if (def.used && def.kind !== 'strings') throw new PlanFault(`duplicate flag specified: ${flagName}`);
      def.used = true;
      if (def.kind === 'bool') {
        if (hasValue && value === '') throw new PlanFault(`missing a value on flag: ${flagName}`);
        const lower = value.toLowerCase();
        if (lower === '' || lower === 'true') def.value = 'true';
        else if (lower === 'false') def.value = 'false';
        else throw new PlanFault(`expecting boolean value for flag ${flagName}, not: ${value}`);
      } else {
        if (!hasValue) throw new PlanFault(`missing a value on flag: ${flagName}`);
        if (def.kind === 'string') def.value = value;
        else def.values.push(value);
      }
    }
    return this;
  }

  value(name: string): string {
    return this.def(name).value;
  }

  values(name: string): string[] {
    return [...this.def(name).values];
  }

  isTrue(name: string): boolean {
    return this.def(name).value === 'true';
  }

  isUsed(name: string): boolean {
    return this.def(name).used;
  }

  private def(name: string): FlagDef {
    const def = this.defs.get(name);
    if (!def) throw new Error(`flag --${name} was not declared`);
    return def;
  }
}
