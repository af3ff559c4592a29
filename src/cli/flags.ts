import { Flags, type Interfaces } from '@oclif/core';

/**
 * A string flag that may be given more than once, one value per occurrence, as docker's flags are:
 * `--insecure-registry A --insecure-registry B REF`. oclif's plain `multiple` flag is greedy and would take `REF`
 * as a second value, then report the positional argument as missing; every repeatable flag goes through here.
 */
export function repeatableString(options: {
  description: string;
  char?: 't' | 'o' | 'e';
}): Interfaces.OptionFlag<string[] | undefined> {
  const flag = { description: options.description, multiple: true, multipleNonGreedy: true } as const;
  return options.char === undefined ? Flags.string(flag) : Flags.string({ ...flag, char: options.char });
}
