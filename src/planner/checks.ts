/**
 * BuildKit's build checks that tsbuild reports as warnings. `SecretsUsedInArgOrEnv`: an ARG or ENV whose name
 * reads like a secret (a word of it is apikey, auth, credential(s), key, password, pword, passwd, secret or token,
 * and none is public, file or version; words are split at `_`, case ignored) ends up in the image's config or
 * history; BuildKit's pattern, its message.
 */
import type { Directive } from '../parser';
import type { BuildPlan } from './types';

export interface CheckWarning {
  rule: string;
  line: number;
  message: string;
}

const SECRET_WORDS = [
  'apikey',
  'auth',
  'credential',
  'credentials',
  'key',
  'password',
  'pword',
  'passwd',
  'secret',
  'token',
];
const ALLOWED_WORDS = ['public', 'file', 'version'];
const SECRET = new RegExp(`(?:_|^)(?:${SECRET_WORDS.join('|')})(?:_|$)`, 'i');
const ALLOWED = new RegExp(`(?:_|^)(?:${ALLOWED_WORDS.join('|')})(?:_|$)`, 'i');

export function looksLikeSecret(name: string): boolean {
  return SECRET.test(name) && !ALLOWED.test(name);
}

/** The build checks for a plan: every ARG (global ones too) and ENV of every stage, in file order. */
export function buildChecks(plan: BuildPlan): CheckWarning[] {
  const out: CheckWarning[] = [];
  const secret = (instruction: 'ARG' | 'ENV', key: string, line: number): void => {
    if (!looksLikeSecret(key)) return;
    out.push({
      rule: 'SecretsUsedInArgOrEnv',
      line,
      message: `Do not use ARG or ENV instructions for sensitive data (${instruction} ${JSON.stringify(key)})`,
    });
  };
  for (const a of plan.metaArgs) secret('ARG', a.key, a.line);
  for (const stage of plan.stages) {
    for (const step of stage.steps) {
      if (step.fromOnBuild) continue;
      if (step.kind === 'arg') for (const a of step.args) secret('ARG', a.key, step.line);
      else if (step.kind === 'env') for (const v of step.vars) secret('ENV', v.key, step.line);
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

/** The rules a `# check=skip=A,B` directive turns off (`all` for every one); BuildKit's `;`-separated syntax. */
export function skippedChecks(directives: readonly Directive[]): Set<string> {
  const out = new Set<string>();
  for (const d of directives) {
    if (d.name !== 'check') continue;
    for (const part of d.value.split(';')) {
      const [k, v] = part.split('=', 2).map((x) => x.trim());
      if (k === 'skip' && v !== undefined)
        for (const name of v.split(',')) if (name.trim() !== '') out.add(name.trim());
    }
  }
  return out;
}
