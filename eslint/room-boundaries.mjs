/**
 * ESLint rule `rooms/one-way`: a relative import from one room of src/ into another must be allowed by the table
 * in ./rooms.mjs. It resolves the import to a path, so `../../cache/gc` from `src/cli/commands/` and `../gc` from
 * `src/cache/transfer/` are told apart by where they land, not by how they are spelled.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GROUND, ROOMS } from './rooms.mjs';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
const NAMES = [...GROUND, ...Object.keys(ROOMS)].sort((a, b) => b.length - a.length);

/** The room (or ground-floor entry) a path under src/ belongs to; undefined outside src/ or in no room. */
function roomOf(file) {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  if (rel.startsWith('..')) return undefined;
  return NAMES.find((n) => rel === n || rel === n.replace(/\.ts$/, '') || rel.startsWith(`${n}/`));
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'keep the imports between the rooms of src/ one-way (docs/ARCHITECTURE.md)' },
    schema: [],
    messages: {
      upward:
        "room '{{from}}' may not import from '{{to}}' ({{source}}): it may use {{allowed}} (docs/ARCHITECTURE.md)",
      groundImports: "the ground floor ('{{from}}') imports no room, but this imports '{{to}}' ({{source}})",
    },
  },
  create(context) {
    const file = context.filename;
    const from = roomOf(file);
    if (from === undefined) return {};
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = roomOf(path.resolve(path.dirname(file), source));
      if (to === undefined || to === from || GROUND.includes(to)) return;
      if (GROUND.includes(from)) {
        context.report({ node: node.source, messageId: 'groundImports', data: { from, to, source } });
        return;
      }
      const allowed = ROOMS[from];
      if (allowed.includes(to)) return;
      context.report({
        node: node.source,
        messageId: 'upward',
        data: {
          from,
          to,
          source,
          allowed:
            allowed.length === 0 ? 'only the ground floor' : `the ground floor and ${allowed.join(', ')}`,
        },
      });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { rules: { 'one-way': rule } };
