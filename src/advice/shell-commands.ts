/**
 * A RUN's command as the simple commands it runs, read loosely: enough to tell `npm ci` or `apt-get update` in a
 * script, not a shell. Quotes are honoured (and removed), the script is cut at unquoted `&&`, `||`, `;`, `|`, `&`,
 * newlines, parentheses, braces and command substitutions, and `sh -c '…'` is read into. Leading assignments
 * (`DEBIAN_FRONTEND=noninteractive`), `sudo`, `env`, `exec` and shell keywords (`if`, `then`, `do`, `!`) are dropped.
 */
import type { RunStep } from '../planner/types';

/** What a RUN runs, as text: the shell-form script with its heredoc bodies, or the exec-form words. */
export function runText(step: RunStep): string {
  const bodies = step.heredocs.map((h) => h.content);
  const command = step.command.form === 'shell' ? step.command.script : step.command.args.join(' ');
  return [command, ...bodies].join('\n');
}

/** The simple commands of a RUN, each as its words. */
export function runCommands(step: RunStep): string[][] {
  if (step.command.form === 'exec' && step.heredocs.length === 0) return unwrap([...step.command.args]);
  return simpleCommands(runText(step));
}

const SEPARATORS = new Set([';', '&', '|', '\n', '(', ')', '`', '{', '}']);
const KEYWORDS = new Set(['if', 'then', 'elif', 'else', 'do', 'while', 'until', '!', 'time']);
const PREFIXES = new Set(['sudo', 'env', 'exec', 'nohup', 'nice', 'command', 'builtin', 'xargs']);
const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', '/bin/sh', '/bin/bash', '/bin/ash', '/bin/dash']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** The simple commands of a shell script, each as its words (quotes removed). */
export function simpleCommands(script: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  const endWord = (): void => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = (): void => {
    endWord();
    out.push(...unwrap(words));
    words = [];
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (c === '\\' && i + 1 < script.length) {
      if (script[i + 1] !== '\n') word = (word ?? '') + script[i + 1];
      i++;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end < 0 ? script.length : end;
      word = (word ?? '') + script.slice(i + 1, stop);
      i = stop;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length && '"\\$`\n'.includes(script[j + 1])) j++;
        text += script[j];
      }
      word = (word ?? '') + text;
      i = j;
    } else if (c === '$' && script[i + 1] === '(') {
      endCommand();
      i++;
    } else if (c === '#' && word === undefined) {
      const nl = script.indexOf('\n', i);
      i = (nl < 0 ? script.length : nl) - 1;
    } else if (SEPARATORS.has(c)) {
      endCommand();
    } else if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
    } else {
      word = (word ?? '') + c;
    }
  }
  endCommand();
  return out;
}

/** A command without what only prefixes it; `sh -c SCRIPT` becomes the commands of SCRIPT. */
function unwrap(words: string[]): string[][] {
  let i = 0;
  for (;;) {
    const w = words[i];
    if (w === undefined) return [];
    if (KEYWORDS.has(w) || ASSIGNMENT.test(w)) i++;
    else if (PREFIXES.has(w)) {
      i++;
      while (words[i]?.startsWith('-')) i++;
    } else break;
  }
  const rest = words.slice(i);
  if (SHELLS.has(rest[0])) {
    const c = rest.findIndex((w, k) => k > 0 && /^-[a-z]*c[a-z]*$/.test(w));
    if (c > 0 && rest[c + 1] !== undefined) return simpleCommands(rest[c + 1]);
  }
  return rest.length > 0 ? [rest] : [];
}

/** The words of a command that are not flags, after the command name: `npm install -g x` → `install`, `x`. */
export function positionals(words: readonly string[]): string[] {
  return words.slice(1).filter((w) => !w.startsWith('-'));
}
