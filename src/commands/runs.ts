import { Command, Option } from 'commander';
import type { RunManifest } from '../run/run-manifest.js';
import type { CommandContext } from './context.js';
import { dataDirOption, parsePositiveInt } from './options.js';

export function runsCommand(context: () => Promise<CommandContext>): Command {
  const show = new Command('show')
    .description('one run in full: parameters, each step with status, duration, attempts, cache decision, inputs and outputs')
    .argument('<run-id>', 'as listed by `etl runs`')
    .action(async (runId: string, _flags: unknown, command: Command) => {
      const ctx = await context();
      const { readRun } = await import('../run/run-manifest.js');
      const run = await readRun(command.optsWithGlobals<{ dataDir: string }>().dataDir, runId);
      ctx.printResult(JSON.stringify(run, null, 2), run as unknown as Record<string, unknown>);
    });
  show.exitOverride();
  show.configureOutput({ outputError: () => {} });
  return new Command('runs')
    .description('recent runs, newest first, from the run manifests in <data-dir>/runs/')
    .addOption(dataDirOption())
    .addOption(new Option('--limit <n>', 'how many runs').argParser(parsePositiveInt).default(20))
    .addCommand(show)
    .addHelpText('after', `
Examples:
  $ etl runs                      id, pipeline, status, start, duration and each step's outcome
  $ etl runs show <run-id>        the whole manifest
  $ etl --json runs               for scripts

A run killed part-way shows as "running" with the steps it finished; its lock is taken over by the next run.`)
    .action(async (flags: { dataDir: string; limit: number }) => {
      const ctx = await context();
      const { listRuns } = await import('../run/run-manifest.js'); // Loaded when the command runs, not at start-up (`etl --help` stays fast)
      const { runs, damaged } = await listRuns(flags.dataDir, flags.limit);
      for (const { problem } of damaged) ctx.log.warn(`${problem}; left out`);
      const text = runs.length === 0 ? `no runs recorded in ${flags.dataDir}/runs` : runs.map(describeRunLine).join('\n');
      ctx.printResult(text, { command: 'runs', runs: runs.map((run) => ({ run_id: run.run_id, pipeline: run.pipeline, status: run.status, started_at: run.started_at, ended_at: run.ended_at, steps: run.steps.map((s) => ({ name: s.name, status: s.status })) })), damaged });
    });
}

function describeRunLine(run: RunManifest): string {
  const seconds = run.ended_at ? `${((Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000).toFixed(1)} s` : '-';
  const steps = run.steps.map((step) => `${step.name} ${step.status}`).join(', ');
  return `${run.run_id}  ${run.pipeline}  ${run.status.padEnd(9)}  ${run.started_at}  ${seconds.padStart(8)}  ${steps}`;
}
