import type { Dockerfile, Instruction } from './ast';
import { goQuote } from './go-text';

/**
 * BuildKit's `Node.Dump()` format, byte for byte: the format of its parser test corpus.
 * `(copy ["--from=x" "--link"] "a" "b")`, one instruction per line.
 */
export function dumpInstruction(ins: Instruction): string {
  let out = ins.name;
  if (ins.flags.length > 0) out += ` [${ins.flags.map(goQuote).join(' ')}]`;
  if (ins.onbuild) out += ` (${dumpInstruction(ins.onbuild)})`;
  for (const arg of ins.args) out += ` ${goQuote(arg)}`;
  return out;
}

/** The whole file: `AST.Dump() + "\n"`, exactly what a corpus `result` file holds. */
export function dumpDockerfile(df: Dockerfile): string {
  return df.instructions.map((ins) => `(${dumpInstruction(ins)})`).join('\n') + '\n';
}
