/**
 * The Dockerfile AST: what BuildKit's parser records for each instruction, in plain data.
 * Nothing here is expanded or validated; that is the planner's job.
 */

export interface Heredoc {
  /** The terminator word with quotes removed, e.g. `EOF` for `<<'EOF'`. */
  name: string;
  /** `3` for `3<<EOF`; 0 when no descriptor is written. */
  fileDescriptor: number;
  /** False when any part of the terminator was quoted: the body is then used verbatim. */
  expand: boolean;
  /** True for `<<-`: leading tabs are removed from the body later, not by the parser. */
  chomp: boolean;
  /** The raw body, every line with its line ending. */
  content: string;
}

export interface Directive {
  /** Lower-cased: `syntax`, `escape` or `check`. */
  name: string;
  value: string;
  line: number;
}

export interface ParseWarning {
  short: string;
  detail: string;
  startLine: number;
  endLine: number;
}

export interface Instruction {
  /** The keyword exactly as written (`FrOm`). */
  keyword: string;
  /** The keyword lower-cased (`from`), which is how instructions are recognised. */
  name: string;
  /** Leading `--flag[=value]` words, quotes removed. */
  flags: string[];
  /** The argument chain as BuildKit's AST holds it (see the dump format); for ENV/LABEL, key/value/separator triples. */
  args: string[];
  /** Exec (JSON array) form. */
  json: boolean;
  /** For ONBUILD: the nested instruction (with its own flags and arguments). */
  onbuild?: Instruction;
  heredocs: Heredoc[];
  /** The logical line after continuations were joined and comment lines dropped. */
  original: string;
  startLine: number;
  endLine: number;
  /** Comment lines directly above the instruction, `#` and surrounding blanks removed. */
  comments: string[];
}

export interface Dockerfile {
  instructions: Instruction[];
  directives: Directive[];
  /** `\` by default, or `` ` `` when set by `# escape=`. */
  escapeToken: string;
  warnings: ParseWarning[];
  startLine: number;
  endLine: number;
}
