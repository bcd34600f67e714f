import path from 'node:path';
import type { Logger } from '../core/log.js';
import { readCacheState } from './cache.js';
import { checkPipeline } from './check-pipeline.js';
import { checkLoad, checkTransform, pipelineSlug, rawFileRecords, rawDirOf, type PipelineRequest } from './pipeline.js';
import type { StepName } from './run-manifest.js';
import { inputsOf } from './source-adapter.js';

export interface PlannedStep {
  name: StepName;
  action: 'run' | 'cached' | 'skip';
  why: string;
}

export interface Plan {
  pipeline: string;
  steps: PlannedStep[];
}

/**
 * What `etl run` would do and why, from the data dir alone: no request to the source, no write, no upload.
 * The source is not asked, so a file changed upstream shows up only once extract has fetched it.
 */
export async function planPipeline(request: PipelineRequest, log: Logger): Promise<Plan> {
  // What the run would refuse, the plan refuses alike (same error, same exit code).
  await checkPipeline(request);
  const cache = await readCacheState(request.source.dataDir, pipelineSlug(request));
  const steps: PlannedStep[] = [];
  if (inputsOf(request.source)) {
    steps.push({ name: 'extract', action: 'skip', why: '--input given: the workbooks are read where they are' });
  } else {
    const known = (await rawFileRecords(rawDirOf(request.source))).length;
    steps.push({
      name: 'extract',
      action: 'run',
      why: known === 0 ? 'nothing extracted yet: every edition is downloaded' : `asks the source for changes to ${known} files already here (conditional GETs: an unchanged file costs 0 bytes)`,
    });
  }
  const transform = await checkTransform(request, cache, log);
  steps.push(
    transform.cached
      ? { name: 'transform', action: 'cached', why: `${transform.inputs.length} input files, declaration, parameters and etl version unchanged (runs if extract fetches a changed file)` }
      : { name: 'transform', action: 'run', why: transform.why },
  );
  if (!request.load) {
    steps.push({ name: 'load', action: 'skip', why: `no --bucket: the parquet stays in ${path.dirname(String(transform.fingerprint.params.out))}` });
  } else if (!transform.cached) {
    steps.push({ name: 'load', action: 'run', why: `uploads what transform writes to ${request.load.bucket}` });
  } else {
    const load = checkLoad(request.load, transform.cached.outputs, cache, request.noCache);
    steps.push(load.cached ? { name: 'load', action: 'cached', why: `the same files are already in ${request.load.bucket}` } : { name: 'load', action: 'run', why: load.why });
  }
  return { pipeline: request.name, steps };
}

export function describePlan(plan: Plan): string {
  return [`plan for ${plan.pipeline} (nothing fetched, written or uploaded):`, ...plan.steps.map((step) => `  ${step.name.padEnd(9)} ${step.action.padEnd(6)} ${step.why}`)].join('\n');
}
