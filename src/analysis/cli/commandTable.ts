/** Every command of `feature-complexity`, by name: the one table the CLI dispatches on (cli.ts). */
import type { CommandHandler } from './command';
import { analyzeCommand, capabilitiesCommand, demoCommand, layersCommand, taskComplexityCommand } from './commands';
import { predictCommand } from './predictCommand';
import { zooCommand } from './zooCommand';
import { compressCommand, distillCommand, variantsCommand } from './variantCommands';

export const COMMANDS: Readonly<Record<string, CommandHandler>> = {
  capabilities: capabilitiesCommand,
  layers: layersCommand,
  analyze: analyzeCommand,
  'task-complexity': taskComplexityCommand,
  demo: demoCommand,
  predict: predictCommand,
  compress: compressCommand,
  distill: distillCommand,
  variants: variantsCommand,
  zoo: zooCommand,
};
