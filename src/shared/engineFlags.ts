/**
 * The V8 flags the engine runs with when it trains on several threads (pipeline/parallel.ts).
 *
 * By default V8 runs its own background work (optimising compilation, parallel and concurrent
 * garbage collection) on helper threads. While every core is busy with a split training step,
 * those helpers take their time from the cores the step needs: the training thread that shares
 * its core with them finishes its slice last and the whole step waits for it (measured in
 * bench/README.md, "Threads": the width-32 order-8 step on 2 threads went from 0.65 to 0.60 of
 * the one-thread step). `--single-threaded` runs that work on the thread that asked for it
 * instead. V8 reads it only at start-up, so it is given on the command line of the process:
 * the extension forks the engine with it, and the command-line tool starts itself again with it
 * for the commands that train (analysis/main.ts).
 *
 * On one thread the helpers run on an otherwise idle core, so no flag is given there. A zoo run
 * with several rows at a time keeps every core busy even at one thread a row, so it and its rows
 * (which inherit the flags) get it: 4 demo rows, `--jobs 2 --threads 1`, took 136.8 and 138.6 s
 * with it against 142.1 and 141.6 s without (bench/README.md, "Threads").
 */
export const PARALLEL_V8_FLAGS: readonly string[] = ['--single-threaded'];

/** Set in the environment of a command-line run started again with PARALLEL_V8_FLAGS, so that it is not started a third time. */
export const RESTARTED_ENV = 'FEATURE_COMPLEXITY_V8_FLAGS';

/** The commands of the command-line tool that train disentanglers or nets (and so may split steps over threads). */
const TRAINING_COMMANDS = new Set(['analyze', 'demo', 'task-complexity', 'compress', 'distill', 'variants']);

/**
 * Whether a command line (without the node and script paths) trains on several cores at once: a
 * training command with no `--threads 1`, or `zoo run` (whose rows analyse) unless it runs one row
 * at a time on one thread (`--jobs 1` or `--row i`, with `--threads 1`); with no GPU or native backend named, on a
 * machine with more than one core.
 */
export function trainsOnThreads(argv: readonly string[], cores: number): boolean {
  if (cores <= 1) return false;
  const [name, sub] = argv;
  const zoo = name === 'zoo' && sub === 'run';
  if (!(TRAINING_COMMANDS.has(name) || zoo)) return false;
  const value = (flag: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === flag) return argv[i + 1];
      if (argv[i].startsWith(`${flag}=`)) return argv[i].slice(flag.length + 1);
    }
    return undefined;
  };
  // `zoo run NAME --row i` (a Slurm task, or one row of a local run) analyses that one row alone.
  const oneRow = value('--row') !== undefined || Number(value('--jobs')) === 1;
  if (Number(value('--threads')) === 1 && (!zoo || oneRow)) return false;
  const backend = value('--backend');
  return backend === undefined || backend === 'auto' || backend === 'wasm' || backend === 'cpu';
}
