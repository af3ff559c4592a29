/**
 * Bounded retries with exponential backoff and jitter, for whole registry operations (a manifest fetch, one
 * blob's download or upload). Only errors marked retryable are repeated; a `Retry-After` from the registry
 * stretches the wait (up to the cap). The last error is rethrown with the attempt count, so the user sees
 * one line that says it was not a one-off.
 */
import { RegistryError } from './errors';

export interface RetryPolicy {
  /** Total tries, the first included (default 4). */
  attempts: number;
  /** Wait before the second try; doubles each time (default 250 ms). */
  baseDelayMs: number;
  /** Longest single wait (default 8 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8000 };

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: RegistryError;
}

export async function withRetries<T>(
  policy: RetryPolicy,
  operation: (attempt: number) => Promise<T>,
  onRetry?: (notice: RetryNotice) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.retryable) throw err;
      if (attempt >= policy.attempts) {
        throw policy.attempts > 1
          ? new RegistryError(`${err.message} (gave up after ${policy.attempts} attempts)`)
          : err;
      }
      const delayMs = backoffDelay(policy, attempt, err.retryAfterMs);
      onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}

/** base·2^(attempt−1), with ±25 % jitter so parallel downloads do not retry in lockstep; at most the cap. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const exponential = policy.baseDelayMs * 2 ** (attempt - 1);
  const jittered = exponential * (0.75 + Math.random() * 0.5);
  return Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
