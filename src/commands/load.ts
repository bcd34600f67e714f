import { Command, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import type { LoadSummary } from '../load/load-files.js';
import type { CommandContext } from './context.js';
import { dataDirOption, loadOptions, parsePositiveInt, type LoadFlags } from './options.js';

const HELP = `
Examples:
  $ etl load --bucket gs://my-bucket/ons/                       what the last \`etl transform\` wrote (recorded in the data dir)
  $ etl load deaths.parquet --bucket gs://my-bucket/ons/        object gs://my-bucket/ons/deaths.parquet
  $ etl load data/processed/ --bucket s3://my-bucket/lake/      every file below; keys keep relative paths
  $ etl load deaths.parquet --bucket file:///srv/lake/ons/      a local directory, same semantics
  $ etl load deaths.parquet --bucket ./lake/ons/                also a local directory: a path starting with /, ./ or ../
  $ etl load deaths.parquet --bucket gs://b/p/ --dry-run        what would be uploaded, and where; sends nothing
  $ etl load out/ --bucket s3://b/ons/ --key '{date}/{name}'    dated keys: s3://b/ons/2024-05-01/...
  $ etl load deaths.parquet --to postgres://etl@db:5432/lake --table ons.monthly_deaths
  $ etl load deaths.parquet --to postgres://etl@db/lake --table ons.monthly_deaths --mode merge --key edition,period,geo_code,geo_name,geo_level

--to takes everything --bucket takes, and postgres://user@host:port/database with --table schema.table:
  --mode replace  (default) the new rows are built in a staging table and swapped in in one transaction:
                  a reader sees the old rows or the new ones, never a mix or an empty table
  --mode append   the rows are added; the same file (sha256) is never appended twice
  --mode merge    rows are upserted on --key (default: the table's primary key); a key twice in one file
                  is a data error naming it
A partitioned folder (transform --partition-by) replaces only the partitions whose file changed. The table is
created when absent; a new column is added; a changed type is an error naming the column. Each load is one
transaction, recorded in <schema>._etl_loads: a re-run with the same file sends nothing (--force sends it).
Postgres password: PGPASSWORD, or ~/.pgpass (PGPASSFILE); never in the URL (refused) or a flag. PGHOST, PGPORT,
PGUSER, PGDATABASE and PGSSLMODE are read as libpq reads them.

--key placeholders: {name} the file name, or its path below a directory given (required); {date} the run date,
UTC, YYYY-MM-DD; {edition} the first year in the file's path (a file without one is refused).

A destination without gs://, s3:// or file:// must be written as a path (/srv/lake, ./lake, ../lake): a bare
name such as my-bucket/ons, or a mistyped scheme such as gs:/b/ or s3//b/, is refused (exit 2) rather than
taken for a local folder.

Each object gets content-type and metadata sha256, source and etl_version. An object whose sha256 already
matches is skipped, so a re-run uploads nothing; --force uploads anyway. After each upload the store's own
checksum (GCS md5, S3 ETag) is compared with the local file; a mismatch deletes the object and fails the file.

Credentials (never on the command line):
  gs://    Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS=key.json,
           \`gcloud auth application-default login\`, or the VM's service account (metadata server).
  s3://    the AWS chain: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), AWS_PROFILE,
           SSO, or the instance/task role. Region: --region, AWS_REGION or the profile.
  file://  none; the directory must be writable.

Emulators and S3-compatible stores:
  --endpoint URL, or STORAGE_EMULATOR_HOST (GCS) / AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL (S3).
  An S3 endpoint switches to path-style addressing (MinIO, R2, Ceph); a GCS endpoint sends no credentials.

Exit code 5 if any file failed; files that made it stay uploaded and are listed.`;

export function loadCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('load')
    .description('upload files or directories to Google Cloud Storage, S3 or a local directory, or load parquet into a Postgres table; verified and idempotent')
    .argument('[paths...]', 'files or directories to upload (default: what the last `etl transform` wrote)')
    .addOption(dataDirOption())
    .addHelpText('after', HELP);
  for (const option of loadOptions()) command.addOption(option);
  return command
    .addOption(new Option('--concurrency <n>', 'files uploaded at once').argParser(parsePositiveInt).default(4))
    .action(async (paths: string[], flags: LoadFlags & { concurrency: number; dataDir: string }) => {
      const destination = flags.to ?? flags.bucket;
      if (destination === undefined) {
        throw new ConfigError('name a destination with --to (gs://bucket/prefix/, s3://bucket/prefix/, ./dir/, or postgres://host/db with --table), or --bucket', { hint: 'run etl load --help for usage' });
      }
      const ctx = await context();
      // Loaded when the command runs, not at start-up (`etl --help` stays fast).
      const [{ failIfAnyFailed, loadFiles }, { recordedUploads }] = await Promise.all([import('../load/load-files.js'), import('../run/data-dir.js')]);
      // Paths typed here are trusted; with none, what the data dir's record lists, each file checked against it first.
      const recorded = paths.length > 0 ? undefined : await recordedUploads(flags.dataDir);
      const summary = await loadFiles({
        inputs: paths,
        files: recorded?.files,
        last: recorded?.last,
        bucket: destination,
        table: flags.table,
        mode: flags.mode,
        mergeKey: flags.key,
        keyTemplate: flags.key,
        sink: { endpoint: flags.endpoint, region: flags.region },
        concurrency: flags.concurrency,
        dryRun: flags.dryRun,
        force: flags.force,
        log: ctx.log,
      });
      ctx.printResult(describeResult(summary, (await import('../load/load-files.js')).describeSummary), loadSummaryJson(summary));
      failIfAnyFailed(summary);
    });
}

/** A dry run lists every file and why; a real run ends with the summary line alone (per-file lines are logged). */
function describeResult(summary: LoadSummary, describeSummary: (summary: LoadSummary) => string): string {
  if (!summary.dryRun) return describeSummary(summary);
  const lines = summary.files.map((file) => `${file.action === 'would-upload' ? 'upload' : file.action === 'would-skip' ? 'skip  ' : 'FAIL  '} ${file.path} -> ${file.uri} (${file.reason})`);
  return [...lines, describeSummary(summary)].join('\n');
}

export function loadSummaryJson(summary: LoadSummary): Record<string, unknown> {
  return {
    command: 'load',
    destination: summary.destination,
    dry_run: summary.dryRun,
    uploaded: summary.uploaded,
    skipped: summary.skipped,
    failed: summary.failed,
    bytes_uploaded: summary.bytesUploaded,
    seconds: Number(summary.seconds.toFixed(3)),
    files: summary.files.map((file) => ({
      path: file.path,
      uri: file.uri,
      action: file.action,
      reason: file.reason,
      bytes: file.bytes,
      ...(file.receipt ? { method: file.receipt.method, parts: file.receipt.parts, verified_with: file.receipt.verifiedWith } : {}),
    })),
  };
}
