/**
 * Interop tests check our output with the real tools. A missing tool is a failure, not a skip: CI must
 * install them (scripts/setup-test-tools.sh), and a silently skipped interop test proves nothing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export function requireTool(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not installed; run scripts/setup-test-tools.sh (interop tests need it)`);
  }
}

/** Run a tool; on failure the error carries its stderr so the test output says what went wrong. */
export async function run(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { ...options, maxBuffer: 64 << 20, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}
