import { Command } from 'commander';
import type { CommandContext } from './context.js';
import { addPipelineOptions, pipelineRequest, type PipelineFlags } from './pipeline-flags.js';

export function planCommand(context: () => Promise<CommandContext>): Command {
  return addPipelineOptions(new Command('plan'))
    .description('say what `etl run` would fetch, transform and upload, and why, without doing any of it')
    .addHelpText('after', `
Examples:
  $ etl plan ons --bucket gs://lake/ons/          each step: run, cached or skip, and the reason
  $ etl --json plan ons --bucket gs://lake/ons/   the same as JSON

Takes the same flags as \`etl run\`. Reads the data dir only: nothing is fetched, written or uploaded.
The source is not asked, so a workbook changed upstream shows up once extract has fetched it.`)
    .action(async (sourceName: string | undefined, datasetName: string | undefined, flags: PipelineFlags, command: Command) => {
      const ctx = await context();
      const { describePlan, planPipeline } = await import('../run/plan.js'); // Loaded when the command runs, not at start-up (`etl --help` stays fast)
      const plan = await planPipeline(await pipelineRequest(sourceName, datasetName, flags, command), ctx.log);
      ctx.printResult(describePlan(plan), { command: 'plan', ...plan });
    });
}
