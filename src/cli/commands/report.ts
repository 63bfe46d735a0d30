import { Option, type Command } from 'commander';
import { createAdapters } from '../../adapters/create-adapters';
import { dateOption } from '../option-parsers';
import { downloadReport, openHint } from '../report-download';
import { configAndPipelineOrUsage } from '../usage';

interface ReportFlags {
  pipeline?: string;
  date?: string;
  out: string;
  print?: boolean;
  json?: boolean;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      "download a day's analytics (report.html, every <query>.json, _manifest.json) from the " +
        'pipeline bucket and print where the report is',
    )
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option(
      '--date <YYYY-MM-DD>',
      'the data day (default: the latest day with a report)',
      dateOption,
    )
    .option('--out <dir>', 'download into <dir>/<pipeline id>/<date>/', './out/report')
    .addOption(new Option('--print', "also print each query's rows as a text table"))
    .addOption(new Option('--json', 'print {reportPath, date, queries} as JSON').conflicts('print'))
    .action((flags: ReportFlags) => report(flags));
}

async function report(flags: ReportFlags): Promise<void> {
  const ctx = configAndPipelineOrUsage(flags.pipeline);
  if (!ctx) return;
  const { config, pipelineId } = ctx;
  // The hint names --pipeline only when the user had to, so it can be pasted as is.
  const pipelineArg = flags.pipeline ? ` --pipeline ${pipelineId}` : '';
  const adapters = createAdapters(config);
  try {
    const r = await downloadReport(adapters.store, {
      pipelineId,
      out: flags.out,
      pipelineArg,
      ...(flags.date ? { date: flags.date } : {}),
    });
    console.error(`downloaded ${r.files} files from ${r.source} to ${r.dir}`);
    if (flags.json) {
      console.log(
        JSON.stringify({ reportPath: r.reportPath, date: r.date, queries: r.queries }, null, 2),
      );
      return;
    }
    console.log(r.reportPath);
    console.log(`open it: ${openHint(r.reportPath)}`);
    if (flags.print) for (const table of r.tables) console.log(`\n${table}`);
  } finally {
    await adapters.close();
  }
}
