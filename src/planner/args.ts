/**
 * Build arguments in global scope: the automatic platform args, overlaid by the ARGs before the first FROM
 * (BuildKit's defaultArgs + buildMetaArgs). This is the only environment FROM lines see; inside a stage a global
 * value is visible only after `ARG NAME` redeclares it.
 */
import { formatPlatform, type Platform } from '../platform';
import type { ShellLex } from '../parser/shell/lex';
import type { ArgCommand } from './commands';
import { EnvList } from './env-list';
import type { SourceText } from './fault';

import type { MetaArg } from './types';

/** Args BuildKit defines itself; a build arg of the same name overrides the value. */
export const AUTOMATIC_ARGS = [
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDOSVERSION',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETOSVERSION',
  'TARGETARCH',
  'TARGETVARIANT',
  'TARGETSTAGE',
];

/** Proxy args reach every RUN without being declared, and stay out of cache keys and history. */
export const PROXY_ARGS = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'];

/** ARGs that configure the build itself and never become environment variables. */
export const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

export function isProxyArg(key: string): boolean {
  return PROXY_ARGS.includes(key.toUpperCase());
}

/** Build args that are never reported as unused: the automatic ones, proxies, BuildKit's own settings. */
export function isBuiltinArg(key: string): boolean {
  return (
    AUTOMATIC_ARGS.includes(key) ||
    isProxyArg(key) ||
    key.startsWith('BUILDKIT_') ||
    key === 'SOURCE_DATE_EPOCH'
  );
}

export function automaticArgs(
  target: Platform,
  build: Platform,
  targetStage: string,
  buildArgs: ReadonlyMap<string, string>,
): EnvList {
  const values: [string, string][] = [
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage === '' ? 'default' : targetStage],
  ];
  const env = new EnvList();
  for (const [key, value] of values) env.set(key, buildArgs.get(key) ?? value);
  return env;
}

/**
 * Applies the global ARGs in order: a build arg wins over the default, and a default is expanded (against the
 * args so far) only when no build arg is given, so `${X:?}` fails only then.
 */
export function applyMetaArgs(
  commands: readonly ArgCommand[],
  automatic: EnvList,
  buildArgs: ReadonlyMap<string, string>,
  lex: ShellLex,
  src: SourceText,
): { globalArgs: EnvList; metaArgs: MetaArg[] } {
  const globalArgs = automatic.clone();
  const metaArgs: MetaArg[] = [];
  for (const cmd of commands) {
    for (const pair of cmd.args) {
      let value: string | undefined;
      const given = buildArgs.get(pair.key);
      if (given !== undefined) value = given;
      else if (pair.value !== undefined) {
        const raw = pair.value;
        value = src.at(cmd.span, () => lex.processWord(raw, globalArgs.toMap()));
      }
      if (value !== undefined) globalArgs.set(pair.key, value);
      const meta: MetaArg = { key: pair.key, line: cmd.span.line };
      if (pair.value !== undefined) meta.default = pair.value;
      if (value !== undefined) meta.value = value;
      metaArgs.push(meta);
    }
  }
  return { globalArgs, metaArgs };
}
