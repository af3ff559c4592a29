/**
 * The image config a stage accumulates, and how each planned step changes it, the way BuildKit's Dockerfile
 * frontend does (`dispatchEnv`, `dispatchCmd`, …): same fields, same history `created_by` text, `empty_layer` for
 * steps without a layer.
 */
import type { Platform } from '../../platform';
import type { ImageConfig } from '../../image/oci-types';
import type { Step } from '../../planner/types';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** A stage starting from nothing: the platform, and PATH, which BuildKit always sets when the base has none. */
export function scratchConfig(platform: Platform): ImageConfig {
  return withDefaultPath({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  });
}

/** A deep copy to build on; a stage never mutates its base's config. ONBUILD triggers do not carry over. */
export function inheritConfig(base: ImageConfig): ImageConfig {
  const copy = JSON.parse(JSON.stringify(base)) as ImageConfig;
  delete copy.config.OnBuild;
  return withDefaultPath(copy);
}

function withDefaultPath(image: ImageConfig): ImageConfig {
  const env = image.config.Env ?? [];
  if (!env.some((e) => e.split('=')[0] === 'PATH')) image.config.Env = [...env, `PATH=${DEFAULT_PATH}`];
  return image;
}

function setEnv(env: string[], key: string, value: string): string[] {
  const i = env.findIndex((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) === key);
  const next = [...env];
  if (i >= 0) next[i] = `${key}=${value}`;
  else next.push(`${key}=${value}`);
  return next;
}

/**
 * Applies one step to the config and appends its history entry. `withLayer` says whether the step added a layer
 * (diff_id appended by the caller). `cmdSetInStage` tracks whether CMD was set in this stage: ENTRYPOINT resets an
 * inherited CMD only.
 */
export function applyStep(
  image: ImageConfig,
  step: Step,
  withLayer: boolean,
  created: string | undefined,
  cmdSetInStage: boolean,
): void {
  const c = image.config;
  switch (step.kind) {
    case 'env':
      for (const v of step.vars) c.Env = setEnv(c.Env ?? [], v.key, v.value);
      break;
    case 'label':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const l of step.labels) c.Labels[l.key] = l.value;
      break;
    case 'workdir':
      c.WorkingDir = step.resolved;
      break;
    case 'user':
      c.User = step.user;
      break;
    case 'volume':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of step.volumes) c.Volumes[v] = {};
      break;
    case 'expose':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of step.ports) c.ExposedPorts[p] = {};
      break;
    case 'stopsignal':
      c.StopSignal = step.signal;
      break;
    case 'shell':
      c.Shell = [...step.shell];
      break;
    case 'cmd':
      c.Cmd = [...step.argv];
      c.ArgsEscaped = true;
      break;
    case 'entrypoint':
      // `ENTRYPOINT []` clears it; so does an ENTRYPOINT the inherited CMD (one not set in this stage).
      c.Entrypoint = step.argv === null ? undefined : [...step.argv];
      if (!cmdSetInStage) c.Cmd = undefined;
      break;
    case 'healthcheck':
      c.Healthcheck = {
        Test: [...step.test],
        ...(step.interval ? { Interval: step.interval } : {}),
        ...(step.timeout ? { Timeout: step.timeout } : {}),
        ...(step.startPeriod ? { StartPeriod: step.startPeriod } : {}),
        ...(step.startInterval ? { StartInterval: step.startInterval } : {}),
        ...(step.retries ? { Retries: step.retries } : {}),
      };
      break;
    case 'maintainer':
      image.author = step.maintainer;
      break;
    case 'onbuild':
      c.OnBuild = [...(c.OnBuild ?? []), step.trigger];
      break;
    case 'arg':
    case 'run':
    case 'copy':
    case 'add':
      break;
  }
  if (step.createdBy !== undefined) {
    image.history = image.history ?? [];
    image.history.push({
      ...(created ? { created } : {}),
      created_by: step.createdBy,
      comment: HISTORY_COMMENT,
      ...(withLayer ? {} : { empty_layer: true }),
    });
  }
}
