/**
 * The parser room: Dockerfile text → AST (BuildKit's rules, byte for byte), and the shell-word lexer used by later
 * stages for `$VAR` expansion and quote removal.
 */
export type { Dockerfile, Directive, Heredoc, Instruction, ParseWarning } from './ast';
export { parseDockerfile, type ParseOptions } from './parse';
export { dumpDockerfile, dumpInstruction } from './dump';
export { DockerfileSyntaxError } from './errors';
export { detectDirective, type DetectedDirective } from './directives';
export { chompHeredocContent } from './heredoc';
export {
  CHECK_BUILD_ARG,
  CheckOptionsError,
  checkSkipped,
  defaultCheckOptions,
  parseCheckOptions,
  readCheckOptions,
  type CheckOptions,
} from './check-directive';
