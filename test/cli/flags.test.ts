/**
 * Every repeatable flag of every command takes one value per occurrence, as docker's flags do: a greedy oclif
 * `multiple` flag swallows the positional arguments after it (`pull --insecure-registry HOST REF` → "Missing 1
 * required arg: ref"). The CLI-level proof for pull and push is in pull-push.test.ts; this guards every command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '@oclif/core';

const COMMANDS = path.join(__dirname, '..', '..', 'src', 'cli', 'commands');

function commandFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return commandFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('repeatable flags', () => {
  const files = commandFiles(COMMANDS);

  it('finds the commands', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files.map((file) => [path.relative(COMMANDS, file), file]))(
    '%s: every multiple flag is non-greedy',
    async (_name, file) => {
      const mod = (await import(file)) as { default: Command.Class };
      const greedy = Object.entries(mod.default.flags ?? {})
        .filter(
          ([, flag]) => flag.type === 'option' && flag.multiple === true && flag.multipleNonGreedy !== true,
        )
        .map(([name]) => name);
      expect(greedy).toEqual([]);
    },
  );
});
