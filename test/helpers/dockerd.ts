/**
 * A private docker engine for tests: Debian's dockerd with its own data root, socket and pid file under a temp
 * dir, no bridge and no iptables rules (the tests load and run images; they need no network), so it never touches
 * the machine's own docker. Started per test file, stopped after it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTool } from './e2e';

export interface PrivateDockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  host: string;
  /** Runs the docker CLI against this engine; returns stdout, fails with stderr. */
  docker(args: string[]): string;
  stop(): Promise<void>;
}

export async function startPrivateDockerd(dir: string): Promise<PrivateDockerd> {
  const dockerd = requireTool('dockerd');
  const cli = requireTool('docker');
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const log = openSync(path.join(dir, 'dockerd.log'), 'a');
  const child: ChildProcess = spawn(
    dockerd,
    [
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '--host',
      host,
      '--bridge',
      'none',
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', log, log] },
  );
  const docker = (args: string[]): string => {
    const r = spawnSync(cli, args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host } });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
    closeSync(log);
  };
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) break;
    if (spawnSync(cli, ['version'], { env: { ...process.env, DOCKER_HOST: host } }).status === 0) {
      return { host, docker, stop };
    }
    await sleep(250);
  }
  await stop();
  const tail = (await fsp.readFile(path.join(dir, 'dockerd.log'), 'utf8')).split('\n').slice(-5).join('\n');
  throw new Error(`dockerd did not start:\n${tail}`);
}
