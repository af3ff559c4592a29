/**
 * What a stage knows at one point while it is planned: its environment, the ARGs in scope, the working
 * directory, the user and the shell. Steps record a snapshot of it; instructions change it.
 */
import { EnvList } from './env-list';
import { normalizeWorkdir } from './paths';
import type { ArgInScope, BaseImageConfig, StepContext } from './types';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_WINDOWS_SHELL = ['cmd', '/S', '/C'];
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class StageState {
  constructor(
    public env: EnvList,
    public args: ArgInScope[],
    public workdir: string,
    public user: string,
    public shell: string[],
  ) {}

  /**
   * The start of a stage on an image (or on scratch, or on an image whose config is not known yet), for a stage
   * whose platform OS is `os`.
   */
  static fromImage(config: BaseImageConfig | undefined, os = 'linux'): StageState {
    const env = EnvList.fromSlice(config?.env ?? []);
    // BuildKit adds the default PATH to every stage whose base has none, except on Windows.
    if (!env.has('PATH') && os !== 'windows') env.set('PATH', DEFAULT_PATH);
    const wd = config?.workingDir ?? '';
    const workdir = wd === '' ? '/' : normalizeWorkdir(wd, wd);
    const fallback = os === 'windows' ? DEFAULT_WINDOWS_SHELL : DEFAULT_SHELL;
    const shell = config?.shell && config.shell.length > 0 ? [...config.shell] : [...fallback];
    return new StageState(env, [], workdir, config?.user ?? '', shell);
  }

  /** A child stage continues from its parent's state. */
  static fromContext(ctx: StepContext): StageState {
    return new StageState(
      new EnvList(ctx.env),
      ctx.args.map((a) => ({ ...a })),
      ctx.workdir,
      ctx.user,
      [...ctx.shell],
    );
  }

  /**
   * Declares an ARG: a redeclared name keeps its place and takes the new value; redeclared without one, it keeps
   * the old value, which is still in the environment.
   */
  declareArg(key: string, value: string | undefined): void {
    const existing = this.args.find((a) => a.key === key);
    if (existing) {
      if (value !== undefined) existing.value = value;
    } else {
      this.args.push(value === undefined ? { key } : { key, value });
    }
  }

  snapshot(): StepContext {
    return {
      env: this.env.toArray(),
      args: this.args.map((a) => ({ ...a })),
      workdir: this.workdir,
      user: this.user,
      shell: [...this.shell],
    };
  }
}
