#!/usr/bin/env node
// The oclif entry point. `build` is the default command, so `tsbuild -t app .` works like `docker build -t app .`:
// when the first word is neither a command, a topic nor a help/version flag, `build` is put in front of it.
const { Config, run, flush, handle } = require('@oclif/core');

async function main() {
  const config = await Config.load(__dirname);
  let argv = process.argv.slice(2);
  const first = argv[0];
  const passThrough = ['--help', '-h', '--version', '-v', 'help'];
  if (
    first !== undefined &&
    !passThrough.includes(first) &&
    !config.findCommand(first) &&
    !config.findTopic(first)
  ) {
    argv = ['build', ...argv];
  }
  await run(argv, config);
  await flush();
}

main().catch(handle);
