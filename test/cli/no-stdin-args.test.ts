/**
 * oclif fills a missing argument from piped stdin unless the argument says not to: `echo x | tsbuild -t app` once
 * used `x` as the build context. No tsbuild command may read stdin unasked, so every argument of every command
 * opts out (a command that wants stdin takes `-` and reads it itself).
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from '@oclif/core';

const COMMANDS = path.resolve(__dirname, '..', '..', 'src', 'cli', 'commands');

function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? commandFiles(path.join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

const files = commandFiles(COMMANDS);

test('the commands are found', () => {
  expect(files.length).toBeGreaterThan(15);
});

test.each(files.map((f) => [path.relative(COMMANDS, f)]))('%s reads no argument from stdin', async (rel) => {
  const mod = (await import(path.join(COMMANDS, rel))) as { default: Command.Class };
  for (const [name, arg] of Object.entries(mod.default.args ?? {})) {
    expect([name, arg.ignoreStdin]).toEqual([name, true]);
  }
});
