/**
 * `feature-complexity` on the command line: progress on stderr, tables on stdout,
 * exit code 2 with one line for bad arguments, 1 with one line for a failed run.
 */
import { BadInputError } from '../util/errors';
import { ENGINE_VERSION } from '../util/version';
import { COMMANDS } from './commandTable';
import { BACKEND_CHOICES, BUDGETS, DEFAULT_ORDERS, RELIABILITY_METHODS } from '../../shared/vocabulary';

const USAGE = `feature-complexity ${ENGINE_VERSION}

Usage:
  feature-complexity analyze <checkpoint> --data <dataset> [--layer NAME] [--orders ${DEFAULT_ORDERS.join(',')}]
                     [--budget ${BUDGETS.join('|')}] [--backend ${BACKEND_CHOICES.join('|')}]
                     [--seed N] [--width N] [--threads N] [--exemplars A,B] [--reliability-method ${RELIABILITY_METHODS.join('|')}] [--reliability-rounds T] [--geometry teacher|same]
                     [--shapley] [--substitution] [--out FILE.json] [--json]
                     [--python PATH] [--model-class module:Class]   (PyTorch state dicts and pickled models)
  feature-complexity layers <checkpoint> [--data <dataset>] [--python PATH] [--model-class module:Class] [--json]
  feature-complexity task-complexity [--tasks 0,2,8,26,80] [--orders ...] [--budget ...] [--width N] [--threads N] [--check-width N] [--out FILE.json]
                     (the target DNN has 20 ReLU blocks of --width channels; a row whose target DNN fits its
                     task net below 0.5 (1 − MSE/Var) is flagged POOR FIT: it measures an under-fit net)
  feature-complexity predict <result.json ...> [--target accuracy|loss] [--repeats 1000] [--orders 0,2,4,8] [--for result.json]
                     [--consistent-only] [--json] [--out FILE.json]
                     (warns on stderr when the analyses differ in orders, width, budget, task, target feature shape,
                     reliability method, rounds, exemplars or rule version; --consistent-only fits only the largest
                     group with the same settings, or the group of the --for model)
  feature-complexity zoo plan <folder|glob|list.txt> --name NAME --data <dataset> [--workspace DIR] [any analyze flag]
                     (one row per checkpoint, keyed by its bytes and the settings, in <workspace>/.feature-complexity/zoos/NAME/)
  feature-complexity zoo run NAME [--jobs N] [--shard i/n] [--threads N]      (the rows with no result, N at a time, here)
  feature-complexity zoo submit NAME --slurm [--partition P] [--gres gpu:1] [--cpus-per-task N] [--time T]
                     [--max-running M] [--sbatch-arg=FLAG]... [--retry-failed] [--dry-run]   (an sbatch job array: task i = row i)
  feature-complexity zoo status NAME [--json]      (done / running / queued / failed / waiting per row; squeue and sacct when there)
  feature-complexity zoo cancel NAME               (scancel its jobs, stop its local run)
  feature-complexity zoo list [--json]
                     (predict takes a zoo in place of result files: feature-complexity predict NAME)
  feature-complexity compress <model.json> --data <dataset> [--sensitivity 1.0 | --sparsity F] [--prune-steps 5] [--epochs 2]
                     [--quant-epochs 2] [--conv-bits 8] [--dense-bits 5] [--max-samples N] [--out DIR] [--compare]
                     (paper Exp. 5 after Han et al. 2015: iterative magnitude pruning, each kernel to |w| < sensitivity·std,
                     retrained on the whole training split of --data — give the teacher's own training set —, then k-means
                     weight sharing with the shared values fine-tuned. Scaled down from the paper's 300 rounds of 20 epochs;
                     on the demo CNN: 70 % of the weights zero, test accuracy 0.847 → 0.842, 26 s)
  feature-complexity distill <model.json> --data <dataset> [--layer NAME] [--student-order 7] [--student-width 16]
                     [--student-budget quick|standard|thorough] [--epochs N] [--max-samples 5000] [--out DIR] [--compare]
                     (the paper's student: the disentangler with 7 ReLU layers, trained to mimic the layer's feature, under
                     the original's frozen head; on the demo CNN: feature fit 0.89, test accuracy 0.847 → 0.814, 39 s)
  feature-complexity variants <model.json> --data <dataset>      (original, compressed and distilled, side by side)
  feature-complexity demo [--budget quick] [--orders ...] [--threads N] [--retrain]
  feature-complexity capabilities [--json]
                     (--threads N: threads each training step is split over on the wasm and cpu backends;
                     default every core, as capabilities prints)

Checkpoints: TF.js model.json (layers or graph model), Keras .h5 / .keras, ONNX, PyTorch .pt/.pth (exported
to ONNX through your Python: FC_PYTHON). Datasets: an IDX folder (MNIST layout), a CIFAR-10 binary folder,
an image folder (train/<class>/..., test/<class>/...), or an .npz / .npy folder.
`;

/** The usage lines of one command (its line of USAGE and the lines that continue it), then the notes on checkpoints and datasets. */
export function commandUsage(name: string): string {
  const lines = USAGE.split('\n');
  const own: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(`  feature-complexity ${name} `) && lines[i] !== `  feature-complexity ${name}`) continue;
    own.push(lines[i]);
    while (i + 1 < lines.length && /^ {6,}\S/.test(lines[i + 1])) own.push(lines[++i]);
  }
  const notes = USAGE.slice(USAGE.indexOf('Checkpoints:'));
  return `Usage:\n${own.join('\n')}\n\n${notes}`;
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(ENGINE_VERSION + '\n');
    return 0;
  }
  const handler = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!handler) {
    process.stderr.write(`feature-complexity: unknown command '${name}' (try --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandUsage(name));
    return 0;
  }
  try {
    await handler(rest);
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const argError = e instanceof BadInputError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`feature-complexity ${name}: ${msg.split('\n')[0]}\n`);
    if (process.env.FC_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return argError ? 2 : 1;
  }
}
