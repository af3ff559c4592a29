/**
 * What planning one step needs besides the step: the stage's state (changed as steps take effect) and the
 * build-wide inputs. Shared by the step builders (steps-*.ts).
 */
import type { ShellLex } from '../parser/shell/lex';
import type { EnvList } from './env-list';
import type { StageHeader } from './stages';
import type { StageState } from './state';
import type { KeyValue, Step } from './types';

export interface DispatchContext {
  /** The lexer with the Dockerfile's escape token. */
  lex: ShellLex;
  buildArgs: ReadonlyMap<string, string>;
  globalArgs: EnvList;
  headers: readonly StageHeader[];
  stageIndex: number;
  proxyEnv: KeyValue[];
  state: StageState;
}

/** A step without the fields every step gets from where it is (span, context, ONBUILD origin). */
export type StepBody<S extends Step> = S extends Step
  ? Omit<S, 'line' | 'endLine' | 'original' | 'fromOnBuild' | 'context'>
  : never;

/** Expands one word against the stage's current environment (BuildKit's ProcessWord). */
export function expandWord(ctx: DispatchContext, word: string): string {
  return ctx.lex.processWord(word, ctx.state.env.toMap());
}
