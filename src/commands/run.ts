import { Command } from 'commander';
import type { PipelineResult } from '../run/pipeline.js';
import type { CommandContext } from './context.js';
import { addPipelineOptions, pipelineRequest, type PipelineFlags } from './pipeline-flags.js';
import { plural } from '../core/plural.js';

export const PIPELINE_EXIT_CODES = `
Exit codes (the step that failed):
  0   success (steps may have been cached)
  2   usage or configuration error, before anything ran
  3   extract failed (source unreachable or answered wrongly)
  4   transform failed (data did not look as declared)
  5   load failed (upload or verification)
  75  another run of this pipeline holds its lock, or an extract or transform of its dataset holds
      the raw layer: nothing done, try again later
A step that runs past --step-timeout (or steps.<step>.timeout) exits with that step's code (3, 4 or 5).`;

export function runCommand(context: () => Promise<CommandContext>): Command {
  return addPipelineOptions(new Command('run'))
    .description('extract, transform and (with --bucket) load in one go, skipping steps whose inputs are unchanged: the command for a crontab line')
    .addHelpText('after', `
Examples:
  $ etl run ons                                   into <data-dir>/processed/ons/monthly-deaths.parquet
  $ etl run ons weekly-deaths --bucket s3://lake/ons/ --region eu-west-2
  $ etl run ons --input ~/Downloads/ons-monthly/  offline: no extract
  $ etl run ons --bucket gs://lake/ons/ --dry-run  the same as \`etl plan\`: nothing fetched, written or uploaded
  $ etl run ons --format delta --partition-by edition --bucket s3://lake/ons/   commit to the Delta table s3://lake/ons/monthly-deaths/

A step whose inputs (raw files' sha256, dataset declaration, parameters, etl version) are unchanged
since its last successful run is skipped and reported as cached; --no-cache runs everything. Extract
always asks the source, with conditional GETs, so an unchanged source costs 0 bytes.

One run per pipeline at a time (a lock in <data-dir>/locks/); each run is recorded in
<data-dir>/runs/<run-id>.json (see \`etl runs\`). \`etl cron\` prints a crontab line.
${PIPELINE_EXIT_CODES}`)
    .action(async (sourceName: string | undefined, datasetName: string | undefined, flags: PipelineFlags, command: Command) => {
      const ctx = await context();
      const request = await pipelineRequest(sourceName, datasetName, flags, command);
      // Loaded when the command runs, not at start-up (`etl --help` stays fast).
      const [{ runPipeline }, { describePlan, planPipeline }] = await Promise.all([import('../run/pipeline.js'), import('../run/plan.js')]);
      if (flags.dryRun) {
        const plan = await planPipeline(request, ctx.log);
        ctx.printResult(describePlan(plan), { command: 'run', dry_run: true, ...plan });
        return;
      }
      const result = await runPipeline(request, ctx.log);
      ctx.printResult(describeRun(result), { command: 'run', ...result.manifest });
    });
}

/** The one line a successful run prints, also under cron. */
function describeRun({ manifest }: PipelineResult): string {
  const steps = manifest.steps.map((step) => `${step.name} ${step.status}${stepDetail(step.summary)}`).join(', ');
  return `run ${manifest.run_id}: ${steps}`;
}

function stepDetail(summary: Record<string, unknown> | undefined): string {
  if (!summary) return '';
  const parts = Object.entries(summary).filter(([key]) => key !== 'url' && key !== 'skipped').map(([key, value]) => countOf(key, value));
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** A summary field in words: `1 row`, `4 input files`, `2 partitions rewritten`, `17657 bytes uploaded`. */
const NOUNS: Record<string, [string, string]> = { rows: ['row', 'rows'], parts: ['input file', 'input files'] };
function countOf(key: string, value: unknown): string {
  const words = key.replace(/_/g, ' ');
  if (key === 'delta') return `Delta ${String(value)}`;
  if (typeof value !== 'number') return `${String(value)} ${words}`;
  const noun = NOUNS[key];
  if (noun) return plural(value, ...noun);
  // partitions_rewritten, bytes_uploaded: the noun comes first; downloaded, failed: no noun.
  const [first, ...rest] = words.split(' ');
  return rest.length > 0 && first!.endsWith('s') ? `${plural(value, first!.slice(0, -1), first)} ${rest.join(' ')}` : `${value} ${words}`;
}
