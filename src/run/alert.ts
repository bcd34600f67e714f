import { hostname } from 'node:os';
import { sleep } from '../core/concurrency.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { redact } from '../core/redact.js';
import type { RunManifest } from './run-manifest.js';

export interface AlertParams {
  /** A webhook that takes a JSON POST (Slack, Teams, a pager's generic hook). From the config or ETL_ALERT_URL. */
  url: string;
  onSuccess: boolean;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;

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
      const response = await fetch(alert.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: redact(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
      await response.body?.cancel();
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

/** Webhook URLs often carry their secret in the path (Slack): name only the host. */
function alertHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}
