import { hostname } from 'node:os';
import { sleep } from '../core/concurrency.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { describeRefusedOrigin } from '../core/origin.js';
import { redact } from '../core/redact.js';
import type { RunManifest } from './run-manifest.js';

export interface AlertParams {
  /** A webhook that takes a JSON POST (Slack, Teams, a pager's generic hook). From the config or ETL_ALERT_URL. */
  url: string;
  onSuccess: boolean;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;
const MAX_REDIRECTS = 3;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/**
 * POSTs a short summary of the run. An alert that cannot be delivered is logged and never changes how the
 * run ends: the run manifest and the exit code remain the record. The body carries no parameters, only
 * the (redacted) error line, so no secret goes to a third party.
 */
export async function sendAlert(alert: AlertParams, run: RunManifest, log: Logger): Promise<void> {
  const failedStep = run.steps.find((step) => step.status === 'failed');
  const body = JSON.stringify({
    text: `etl ${run.pipeline} ${run.status}${run.error ? `: ${run.error.message}` : ''}`,
    pipeline: run.pipeline,
    run_id: run.run_id,
    status: run.status,
    failed_step: failedStep?.name ?? null,
    exit_code: run.error?.exit_code ?? 0,
    error: run.error?.message ?? null,
    started_at: run.started_at,
    ended_at: run.ended_at,
    host: hostname(),
    etl_version: run.etl_version,
    steps: run.steps.map((step) => ({ name: step.name, status: step.status, duration_s: step.duration_s, attempts: step.attempts })),
  });
  let lastProblem = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const response = await post(alert.url, redact(body));
      if (typeof response === 'string') {
        lastProblem = response;
        break;
      }
      if (response.ok) {
        log.debug(`alert delivered (${response.status})`);
        return;
      }
      lastProblem = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429) break;
    } catch (error) {
      lastProblem = errorMessage(error instanceof Error && error.cause instanceof Error ? error.cause : error);
    }
    if (attempt < ATTEMPTS) await sleep(500 * 2 ** (attempt - 1));
  }
  log.warn(`alert not delivered to ${redact(alertHost(alert.url))}: ${lastProblem}; the run's result stands`);
}

/**
 * POSTs the body, following a redirect only on the webhook's own origin (the same scheme, host and port),
 * the body re-sent as a POST. fetch would follow any redirect, and a 307/308 with the body, to any host.
 * A redirect elsewhere is a reason (a string), not a response.
 */
async function post(url: string, body: string): Promise<Response | string> {
  const origin = new URL(url).origin;
  for (let current = url, hops = 0; ; hops++) {
    const response = await fetch(current, { method: 'POST', headers: { 'content-type': 'application/json' }, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (!REDIRECT_STATUS.has(response.status) || location === null) return response;
    const next = URL.canParse(location, current) ? new URL(location, current) : undefined;
    if (next?.origin !== origin) return `HTTP ${response.status}, a redirect to ${next ? `another origin (${describeRefusedOrigin(next)})` : 'nowhere usable'}; not followed`;
    if (hops >= MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
    current = next.href;
  }
}

/** Webhook URLs often carry their secret in the path (Slack): name only the host. */
function alertHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}
