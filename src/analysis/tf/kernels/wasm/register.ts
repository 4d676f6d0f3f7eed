/**
 * Every kernel this engine adds to or replaces in tfjs-backend-wasm, registered in one place when
 * the backend loads (tf/backend.ts). The fused Adam update registers itself with the optimizer
 * (kernels/adam.ts), which runs on any backend.
 */
import { registerWasmConvKernels, wasmConvDescription } from './conv';

/** Registers the kernels; returns what they are, for the backend's description. */
export function registerWasmKernels(): string {
  registerWasmConvKernels();
  return wasmConvDescription();
}
