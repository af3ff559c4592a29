/**
 * The environment a shell word is expanded against: names to values. A name that is present is *set*, even
 * when its value is empty (`${NULL-x}` gives `""`, `${NULL:-x}` gives `x`).
 */
export type ShellEnv = ReadonlyMap<string, string>;

/**
 * BuildKit's `EnvsFromSlice`: a `KEY=VALUE` list as Docker keeps it. Each entry is cut at its first `=`; an
 * entry with no `=` sets the name to the empty value; a later entry for the same name wins. Names stay
 * case-sensitive (BuildKit upper-cases them only on Windows).
 */
export function envFromSlice(entries: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) env.set(entry, '');
    else env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}
