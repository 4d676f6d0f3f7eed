/**
 * Every request the engine answers, in one table typed against src/shared/engineProtocol.ts: a
 * request type and its handler, whose parameters and result the compiler checks against it.
 * Engine errors become jsonrpc errors the host words for the user (EngineErrorCode).
 */
import { ResponseError, type CancellationToken, type MessageConnection, type RequestType } from 'vscode-jsonrpc';
import {
  analyzeRequest,
  capabilitiesRequest,
  EngineErrorCode,
  listLayersRequest,
  predictRequest,
  progressType,
  taskComplexityRequest,
  type ProgressParams,
} from '../../shared/engineProtocol';
import { analyze } from '../pipeline/analyze';
import { checkpointLayers } from '../teacher/teacher';
import { useBackend } from '../tf/backend';
import { capabilities } from '../tf/capabilities';
import { BadInputError, CancelledError } from '../util/errors';
import { handlePredict, handleTaskComplexity } from './viewRequests';

/** Maps engine errors to jsonrpc errors the host can word for the user. */
export function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof CancelledError) return new ResponseError(EngineErrorCode.Cancelled, e.message);
  if (e instanceof BadInputError) return new ResponseError(EngineErrorCode.BadInput, e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new ResponseError(EngineErrorCode.Internal, msg);
}

/** What a handler may use besides its parameters. */
interface RequestContext {
  isCancelled: () => boolean;
  progress: (p: ProgressParams) => void;
}

type Handler<P, R> = (params: P, ctx: RequestContext) => R | Promise<R>;

export function registerHandlers(connection: MessageConnection): void {
  const on = <P, R>(type: RequestType<P, R, void>, handler: Handler<P, R>) =>
    connection.onRequest(type, async (params: P, token: CancellationToken) => {
      try {
        return await handler(params, {
          isCancelled: () => token.isCancellationRequested,
          progress: (p) => void connection.sendProgress(progressType, p.progressToken, p),
        });
      } catch (e) {
        throw toResponseError(e);
      }
    });

  connection.onRequest(capabilitiesRequest, async () => {
    try {
      return await capabilities();
    } catch (e) {
      throw toResponseError(e);
    }
  });
  on(listLayersRequest, async (params) => {
    await useBackend('auto');
    return checkpointLayers(params);
  });
  on(analyzeRequest, async (params, ctx) => {
    const res = await analyze(params, { progress: (p) => ctx.progress({ progressToken: params.progressToken, ...p }), isCancelled: ctx.isCancelled });
    return { resultFile: res.resultFile, complete: res.complete };
  });
  on(predictRequest, (params) => handlePredict(params));
  on(taskComplexityRequest, (params, ctx) => handleTaskComplexity(params, ctx.progress, ctx.isCancelled));
}
