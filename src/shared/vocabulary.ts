/**
 * The names the engine, the CLI, the host and the panels share: budgets, backends, reliability
 * methods and the default complexity orders. Each list is the one source of its type.
 * (package.json's settings repeat the budget and backend lists for VS Code; a unit test keeps
 * them equal.)
 */

/** How long the disentanglers train (src/analysis/pipeline/budget.ts holds each one's numbers). */
export const BUDGETS = ['quick', 'standard', 'thorough', 'reference'] as const;
export type Budget = (typeof BUDGETS)[number];
export const DEFAULT_BUDGET: Budget = 'standard';

/** What each budget is, in one line, for pickers. */
export const BUDGET_DETAILS: Record<Budget, string> = {
  quick: 'Stops as soon as the ρ estimates settle roughly. Minutes on a CPU.',
  standard: 'Stops when ρ moves less than a tight tolerance.',
  thorough: 'Longer training with a stricter stopping rule.',
  reference: "The paper's recipe: 500 epochs × 2000 samples. Hours on a CPU.",
};

/** TensorFlow.js backends, in the order `auto` tries them; `cpu` is the last resort, never picked by `auto`. */
export const AUTO_BACKENDS = ['tensorflow', 'webgpu', 'wasm'] as const;
export const BACKENDS = [...AUTO_BACKENDS, 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const BACKEND_CHOICES = ['auto', ...BACKENDS] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** How the reliability stage gets its shared disentanglers (METHOD.md §3). */
export const RELIABILITY_METHODS = ['joint', 'target-phi'] as const;
export type ReliabilityMethod = (typeof RELIABILITY_METHODS)[number];

/** The paper's complexity orders l: nonlinear layers of each disentangler. */
export const DEFAULT_ORDERS: readonly number[] = [0, 2, 4, 8, 14, 20, 26, 32];

export const isOneOf = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === 'string' && (list as readonly string[]).includes(v);
