import { readFileSync } from 'node:fs';

/**
 * Whether this process runs in a user namespace other than the initial one: there the uid map is not the whole
 * identity range (`0 0 4294967295`).
 */
export function inUserNamespace(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(map.length === 3 && map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
  } catch {
    return false;
  }
}
