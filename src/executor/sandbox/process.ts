/** Run the process that hosts a sandboxed command: its output streamed as it comes, its exit as a number. */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { BuildError } from '../../errors';

export interface ProcessOptions {
  env: NodeJS.ProcessEnv;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
  /** How to stop it on abort (default: SIGKILL to the process). */
  kill?: () => Promise<void>;
}

/** Exit code of `file args`, with 128+N for death by signal N, as a shell reports it. */
export function runProcess(file: string, args: string[], options: ProcessOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    // A fixed cwd: the sandbox helpers must not inherit (or report) where tsbuild happened to run.
    const child = spawn(file, args, { cwd: '/', env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => options.onOutput?.(d, 'stdout'));
    child.stderr.on('data', (d: Buffer) => options.onOutput?.(d, 'stderr'));
    const onAbort = (): void => {
      const stop = options.kill ?? (async () => void child.kill('SIGKILL'));
      stop().catch(() => child.kill('SIGKILL'));
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(new BuildError(`cannot run ${file}: ${err.message}`));
    });
    child.on('close', (code, sig) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (code !== null) resolve(code);
      else resolve(128 + ((sig && constants.signals[sig]) || 0));
    });
  });
}
