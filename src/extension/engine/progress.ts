/**
 * Long engine work behind a cancellable progress notification: the notification's Cancel, the
 * status bar item and the Cancel command all cancel the same token, and the engine's progress
 * notifications for `progressToken` move the bar.
 */
import * as vscode from 'vscode';
import type { ProgressParams } from '../../shared/engineProtocol';
import type { Ctx } from '../ctx';
import { progressMessage, stageText } from './progressText';

/** `onEvent` sees every progress notification too: the engine client keeps one listener per token, this one. */
export async function withEngineProgress<T>(
  ctx: Ctx,
  title: string,
  progressToken: string,
  run: (token: vscode.CancellationToken) => Promise<T>,
  onEvent?: (p: ProgressParams) => void,
): Promise<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const cts = new vscode.CancellationTokenSource();
    token.onCancellationRequested(() => cts.cancel());
    ctx.setRunning(cts);
    let last = 0;
    const sub = ctx.engine.onProgress(progressToken, (p) => {
      const pct = Math.round(p.fraction * 100);
      progress.report({ message: progressMessage(p), increment: Math.max(0, pct - last) });
      ctx.status.text = `$(beaker~spin) Feature complexity: ${stageText(p)} ${pct}%`;
      last = Math.max(last, pct);
      onEvent?.(p);
    });
    try {
      return await run(cts.token);
    } finally {
      sub.dispose();
      ctx.setRunning(undefined);
      cts.dispose();
    }
  });
}
