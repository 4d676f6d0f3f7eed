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
  };
}
