/** Typed view of the extension's settings (package.json `contributes.configuration`). */
import * as vscode from 'vscode';
import type { BackendChoice, Budget, ReliabilityMethod } from '../shared/engineProtocol';
import { DEFAULT_ORDERS } from '../shared/vocabulary';

export interface Settings {
  orders: number[];
  budget: Budget;
  backend: BackendChoice;
  width: number;
  /** 0 = the machine's cores. */
  threads: number;
  seed: number;
  dataset: string;
  exemplars: string[];
  reliabilityMethod: ReliabilityMethod;
  shapley: boolean;
  substitution: boolean;
  resultsFolder: string;
  nodePath: string;
  /** Where a folder of checkpoints (a zoo) runs: ask each time, here, or on a Slurm cluster. */
  cluster: ClusterSettings;
  /** Rows a local zoo run analyses at a time; 0 = the machine's cores. */
  zooJobs: number;
}

export const ZOO_SCHEDULERS = ['ask', 'local', 'slurm'] as const;

export interface ClusterSettings {
  scheduler: (typeof ZOO_SCHEDULERS)[number];
  partition: string;
  gres: string;
  /** 0 = not set. */
  cpusPerTask: number;
  time: string;
  /** 0 = no limit. */
  maxRunning: number;
  sbatchArgs: string[];
}

export function settings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration('featureComplexity', scope);
  return {
    orders: c.get<number[]>('orders', [...DEFAULT_ORDERS]),
    budget: c.get<Budget>('budget', 'standard'),
    backend: c.get<BackendChoice>('backend', 'auto'),
    width: c.get<number>('width', 32),
    threads: c.get<number>('threads', 0),
    seed: c.get<number>('seed', 0),
    dataset: c.get<string>('dataset', ''),
    exemplars: c.get<string[]>('exemplars', []),
    reliabilityMethod: c.get<ReliabilityMethod>('reliabilityMethod', 'joint'),
    shapley: c.get<boolean>('shapley', true),
    substitution: c.get<boolean>('substitution', true),
    resultsFolder: c.get<string>('resultsFolder', '.feature-complexity'),
    nodePath: c.get<string>('nodePath', ''),
    cluster: {
      scheduler: c.get<ClusterSettings['scheduler']>('cluster.scheduler', 'ask'),
      partition: c.get<string>('cluster.partition', ''),
      gres: c.get<string>('cluster.gres', ''),
      cpusPerTask: c.get<number>('cluster.cpusPerTask', 0),
      time: c.get<string>('cluster.time', ''),
      maxRunning: c.get<number>('cluster.maxRunning', 0),
      sbatchArgs: c.get<string[]>('cluster.sbatchArgs', []),
    },
    zooJobs: c.get<number>('zoo.jobs', 0),
  };
}
