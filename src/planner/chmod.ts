/**
 * COPY/ADD `--chmod`: an octal mode up to 07777, or (BuildKit ≥ 1.14) a symbolic mode as chmod(1) reads it
 * (`u+x`, `go-w`, `u=rwX,go=rX`), applied to each copied file's own mode. The symbolic grammar and its quirks are
 * BSD setmode(3)'s, as the dchapes-mode package BuildKit uses implements it, with the common umask 022 for
 * clauses that name no user class (`+w` then only adds the owner's write bit).
 */
import { PlanFault } from './fault';
import { goParseUint } from './go';
import type { Chmod } from './types';

const UMASK = 0o022;
const IS_UID = 0o4000;
const IS_GID = 0o2000;
const IS_TXT = 0o1000;
const RWXU = 0o700;
const RWXG = 0o070;
const RWXO = 0o007;
const STANDARD = IS_UID | IS_GID | RWXU | RWXG | RWXO;
const R_USER = 0o400;
const R_GROUP = 0o040;
const R_OTHER = 0o004;

const CLEAR = 1;
const SET = 2;
const G_BITS = 4;
const O_BITS = 8;
const U_BITS = 16;

interface BitCmd {
  cmd: string;
  cmd2: number;
  bits: number;
}

/** Parses a `--chmod` value (already expanded); throws PlanFault with BuildKit's message. */
export function parseChmod(value: string): Chmod {
  const nonOctal = new PlanFault(
    `invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`,
  );
  const octal = goParseUint(value, 8, 32);
  if (octal !== undefined) {
    if (octal > 0o7777) throw nonOctal;
    return { kind: 'octal', mode: octal };
  }
  // A value that starts with a digit is read as a number by the mode parser, so it fails as one.
  if (value === '' || (value[0] >= '0' && value[0] <= '9')) throw nonOctal;
  if (symbolicCommands(value) === undefined)
    throw new PlanFault(`invalid chmod parameter: '${value}': invalid syntax`);
  return { kind: 'symbolic', spec: value };
}

/** The permission bits (07777) a file or directory gets under `chmod`, given its current mode. */
export function applyChmod(chmod: Chmod, mode: number, isDir: boolean): number {
  if (chmod.kind === 'octal') return chmod.mode;
  const cmds = symbolicCommands(chmod.spec);
  if (!cmds) throw new Error(`invalid symbolic mode ${chmod.spec}`);
  const original = mode & 0o7777;
  let next = original;
  const common = (c: BitCmd, value: number): void => {
    if (c.cmd2 & CLEAR) {
      const clr = c.cmd2 & SET ? RWXO : value;
      if (c.cmd2 & U_BITS) next &= ~((clr << 6) & c.bits);
      if (c.cmd2 & G_BITS) next &= ~((clr << 3) & c.bits);
      if (c.cmd2 & O_BITS) next &= ~(clr & c.bits);
    }
    if (c.cmd2 & SET) {
      if (c.cmd2 & U_BITS) next |= (value << 6) & c.bits;
      if (c.cmd2 & G_BITS) next |= (value << 3) & c.bits;
      if (c.cmd2 & O_BITS) next |= value & c.bits;
    }
  };
  for (const c of cmds) {
    switch (c.cmd) {
      case 'u':
        common(c, (next & RWXU) >> 6);
        break;
      case 'g':
        common(c, (next & RWXG) >> 3);
        break;
      case 'o':
        common(c, next & RWXO);
        break;
      case '+':
        next |= c.bits;
        break;
      case '-':
        next &= ~c.bits;
        break;
      case 'X':
        if (original & 0o111 || isDir) next |= c.bits;
        break;
    }
  }
  return next & 0o7777;
}

/** setmode(3)'s clause list, or undefined for a syntax error. */
function symbolicCommands(spec: string): BitCmd[] | undefined {
  const cmds: BitCmd[] = [];
  const mask = ~UMASK & 0o7777;
  const add = (op: string, who: number, oparg: number | string): void => {
    if (op === '=' || op === '+' || op === '-' || op === 'X') {
      let o = op;
      if (o === '=') {
        cmds.push({ cmd: '-', cmd2: 0, bits: who !== 0 ? who : STANDARD });
        o = '+';
      }
      const arg = oparg as number;
      cmds.push({ cmd: o, cmd2: 0, bits: who !== 0 ? who & arg : mask & arg });
      return;
    }
    // 'u', 'g', 'o': copy another class's bits.
    let cmd2 = 0;
    let bits = mask;
    if (who !== 0) {
      if (who & R_USER) cmd2 |= U_BITS;
      if (who & R_GROUP) cmd2 |= G_BITS;
      if (who & R_OTHER) cmd2 |= O_BITS;
      bits = 0o7777;
    } else {
      cmd2 = U_BITS | G_BITS | O_BITS;
    }
    if (oparg === '+') cmd2 |= SET;
    else if (oparg === '-') cmd2 |= CLEAR;
    else if (oparg === '=') cmd2 |= SET | CLEAR;
    cmds.push({ cmd: op, cmd2, bits });
  };

  let s = spec;
  let equalOpDone = false;
  for (;;) {
    let who = 0;
    while (s !== '' && 'augo'.includes(s[0])) {
      if (s[0] === 'a') who |= STANDARD;
      else if (s[0] === 'u') who |= IS_UID | RWXU;
      else if (s[0] === 'g') who |= IS_GID | RWXG;
      else who |= RWXO;
      s = s.slice(1);
    }
    for (;;) {
      if (s === '') return undefined;
      const op = s[0];
      s = s.slice(1);
      if (op !== '+' && op !== '-' && op !== '=') return undefined;
      if (op === '=') equalOpDone = false;
      who &= ~IS_TXT;
      let perm = 0;
      let permX = 0;
      for (;;) {
        const b = s === '' ? '' : s[0];
        if (b === 'r') perm |= 0o444;
        else if (b === 's') {
          if (who === 0 || (who & ~RWXO) !== 0) perm |= IS_UID | IS_GID;
        } else if (b === 't') {
          if (who === 0 || (who & ~RWXO) !== 0) {
            who |= IS_TXT;
            perm |= IS_TXT;
          }
        } else if (b === 'w') perm |= 0o222;
        else if (b === 'X') {
          if (op === '+') permX = 0o111;
        } else if (b === 'x') perm |= 0o111;
        else if (b === 'u' || b === 'g' || b === 'o') {
          if (perm !== 0) {
            add(op, who, perm);
            perm = 0;
          }
          if (op === '=') equalOpDone = true;
          if (permX !== 0) {
            add('X', who, permX);
            permX = 0;
          }
          add(b, who, op);
        } else {
          if (perm !== 0 || (op === '=' && !equalOpDone)) {
            if (op === '=') equalOpDone = true;
            add(op, who, perm);
            perm = 0;
          }
          if (permX !== 0) add('X', who, permX);
          break;
        }
        s = s.slice(1);
      }
      if (s === '') return cmds;
      if (s[0] !== ',') continue; // another operator for the same users
      s = s.slice(1);
      break;
    }
  }
}
