import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';

interface VacuumFlags {
  retain: string;
  dryRun: boolean;
  endpoint?: string;
  region?: string;
}

export function vacuumCommand(context: () => Promise<CommandContext>): Command {
  return new Command('vacuum')
    .description('delete the data files of a Delta table that no version within the retention reads, and files of commits that never landed')
    .argument('<table>', 'the table folder: ./lake/monthly-deaths/, s3://bucket/prefix/table/ or gs://bucket/prefix/table/')
    .addOption(new Option('--retain <duration>', 'keep every version of this period readable (time travel), e.g. 7d, 12h; files younger than this are never deleted').default('7d'))
    .addOption(new Option('--dry-run', 'list what would be deleted, delete nothing').default(false))
    .addOption(new Option('--endpoint <url>', 'an emulator or S3-compatible server instead of the cloud endpoint'))
    .addOption(new Option('--region <name>', 'S3 region'))
    .addHelpText('after', `
Examples:
  $ etl vacuum ./lake/monthly-deaths/ --retain 7d
  $ etl vacuum s3://lake/ons/monthly-deaths/ --dry-run

Kept: every file of the version that was current <duration> ago and every file added since, so time travel
to any moment of the period still reads whole versions. A file no commit references (a run killed between
its data and its commit, or one that lost a race) goes once it is older than <duration>. The log is never
touched. A retention shorter than the longest run may delete the files of a commit still being written.`)
    .action(async (table: string, flags: VacuumFlags) => {
      const ctx = await context();
      const [{ openLogStore }, { parseRetention, vacuumTable }, { formatVacuum }] = await Promise.all([import('../delta/open-store.js'), import('../delta/vacuum.js'), import('./delta-format.js')]);
      const retention = parseRetention(flags.retain);
      const where = /^[a-z][a-z0-9+.-]*:\/\//i.test(table) || table.startsWith('/') || /^\.\.?([/\\]|$)/.test(table) ? table : `./${table}`;
      const result = await vacuumTable(await openLogStore(where, { endpoint: flags.endpoint, region: flags.region }), retention, { dryRun: flags.dryRun });
      ctx.printResult(formatVacuum(result), { command: 'vacuum', ...result });
    });
}
