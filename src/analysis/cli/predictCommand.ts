/**
 * `feature-complexity predict <result.json ...> [--target accuracy|loss] [--repeats 1000]
 *  [--seed N] [--orders 0,2,4,8] [--for result.json] [--consistent-only] [--json] [--out FILE.json]`
 *
 * When the analyses differ in the settings their numbers depend on (comparability.ts), a warning
 * on stderr lists what differs; `--consistent-only` fits only the largest group that agrees.
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { zooCountsText } from '../../shared/files/zoo';
import type { CommandHandler } from './command';
import { BadInputError } from '../util/errors';
import { predictSettingsWarning } from '../../shared/comparability';
import { formatPredictReport, predictFromResults, readPredictSource, type PredictTarget } from '../experiments/predict';
import { writeFileAtomic } from '../util/atomicWrite';
import { parseOrders } from '../pipeline/analyze';
import { parseInteger } from './commands';
import { findZoo } from '../zoo/manifest';
import { zooStatus } from '../zoo/status';

/** A result file as given; a zoo (its name in this folder's workspace, or its folder) as its finished rows' result files. */
function zooResults(arg: string): string[] {
  if (existsSync(arg) && statSync(arg).isFile()) return [arg];
  const status = zooStatus(findZoo(arg, process.cwd()));
  const done = status.rows.flatMap((r) => (r.result ? [r.result] : []));
  if (done.length === 0) throw new BadInputError(`zoo '${status.name}' has no finished rows yet (${zooCountsText(status)})`);
  if (done.length < status.total)
    process.stderr.write(`feature-complexity predict: zoo ${status.name}: using the ${done.length} finished rows of ${status.total}\n`);
  return done;
}

export const predictCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      target: { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string' },
      orders: { type: 'string' },
      for: { type: 'string' },
      'consistent-only': { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  const target = (values.target ?? 'accuracy') as PredictTarget;
  if (target !== 'accuracy' && target !== 'loss') throw new BadInputError(`--target must be accuracy or loss, got '${values.target}'`);
  if (positionals.length === 0) throw new BadInputError('give the result files of the analysed models (feature-complexity predict a.json b.json ...)');
  const inputs = positionals.flatMap(zooResults).map((path) => ({ path, result: readPredictSource(path) }));
  const forInput = values.for ? { path: values.for, result: readPredictSource(values.for) } : undefined;
  const report = predictFromResults(
    inputs,
    {
      target,
      repeats: parseInteger('repeats', values.repeats, 1000, 1),
      seed: parseInteger('seed', values.seed, 0, 0),
      orders: values.orders ? parseOrders(values.orders) : undefined,
      consistentOnly: values['consistent-only'] ?? false,
    },
    forInput,
  );
  const warning = predictSettingsWarning(report.settings);
  if (warning) {
    const hint = report.settings?.consistentOnly ? '' : ' Pass --consistent-only to fit only that group.';
    process.stderr.write(`feature-complexity predict: warning: ${warning}${hint}\n`);
  }
  const json = JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
  if (values.out) {
    writeFileAtomic(values.out, json);
  }
  process.stdout.write(values.json ? json : formatPredictReport(report));
};
