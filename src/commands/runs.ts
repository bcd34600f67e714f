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
      const parent = command.parent!;
      const { dataDirs } = await runsOf(parent.opts<RunsFlags>(), parent);
      const found = await Promise.all(dataDirs.map((dir) => readRun(dir, runId).catch(() => null)));
      const run = found.find((manifest) => manifest !== null) ?? (await readRun(dataDirs[0]!, runId));
      ctx.printResult(JSON.stringify(run, null, 2), run as unknown as Record<string, unknown>);
    });
  show.exitOverride();
  show.configureOutput({ outputError: () => {} });
  return new Command('runs')
    .description('recent runs, newest first, from the run manifests in <data-dir>/runs/')
    .addOption(dataDirOption())
    .addOption(new Option('--limit <n>', 'how many runs').argParser(parsePositiveInt).default(20))
    .addOption(new Option('--config <file>', "only the runs of this YAML or JSON file's pipelines, from the data dir it names"))
    .addCommand(show)
    .addHelpText('after', `
Examples:
  $ etl runs                      id, pipeline, status, start, duration and each step's outcome
  $ etl runs show <run-id>        the whole manifest
  $ etl runs --config etl.yaml    the runs of the pipelines in etl.yaml, from its data_dir
  $ etl --json runs               for scripts

A run killed part-way shows as "running" with the steps it finished; its lock is taken over by the next run.`)
    .action(async (flags: RunsFlags, command: Command) => {
      const ctx = await context();
      const { listRuns } = await import('../run/run-manifest.js'); // Loaded when the command runs, not at start-up (`etl --help` stays fast)
      const { dataDirs, pipelines } = await runsOf(flags, command);
      const lists = await Promise.all(dataDirs.map((dir) => listRuns(dir, flags.limit, pipelines)));
      const damaged = lists.flatMap((list) => list.damaged);
      for (const { problem } of damaged) ctx.log.warn(`${problem}; left out`);
      const runs = lists
        .flatMap((list) => list.runs)
        .sort((a, b) => b.run_id.localeCompare(a.run_id))
        .slice(0, flags.limit);
      const text = runs.length === 0 ? `no runs recorded in ${dataDirs.map((dir) => `${dir}/runs`).join(', ')}${pipelines ? ` for ${[...pipelines].join(', ')}` : ''}` : runs.map(describeRunLine).join('\n');
      ctx.printResult(text, { command: 'runs', runs: runs.map((run) => ({ run_id: run.run_id, pipeline: run.pipeline, status: run.status, started_at: run.started_at, ended_at: run.ended_at, steps: run.steps.map((s) => ({ name: s.name, status: s.status })) })), damaged });
    });
}

interface RunsFlags {
  dataDir: string;
  limit: number;
  config?: string;
}

/** Where to look, and for which pipelines: with --config, its pipelines in the data dirs it names (--data-dir given wins). */
async function runsOf(flags: RunsFlags, command: Command): Promise<{ dataDirs: string[]; pipelines?: ReadonlySet<string> }> {
  if (!flags.config) return { dataDirs: [flags.dataDir] };
  const { readConfigFile } = await import('../run/config.js');
  const { pipelines } = await readConfigFile(flags.config);
  const dataDirs = command.getOptionValueSource('dataDir') === 'cli' ? [flags.dataDir] : [...new Set(pipelines.map((p) => p.dataDir ?? flags.dataDir))];
  return { dataDirs, pipelines: new Set(pipelines.map((p) => p.name)) };
}

function describeRunLine(run: RunManifest): string {
  const seconds = run.ended_at ? `${((Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000).toFixed(1)} s` : '-';
  const steps = run.steps.map((step) => `${step.name} ${step.status}`).join(', ');
  return `${run.run_id}  ${run.pipeline}  ${run.status.padEnd(9)}  ${run.started_at}  ${seconds.padStart(8)}  ${steps}`;
}
