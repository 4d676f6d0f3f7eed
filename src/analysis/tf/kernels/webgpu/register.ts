/**
 * Every kernel this engine adds to or replaces in tfjs-backend-webgpu, registered in one place
 * when the backend loads (tf/backend.ts).
 */
import { registerWebgpuAdamKernel } from './adam';
import { registerWebgpuConvKernels } from './conv';
import { registerWebgpuReluGrad } from './relu';
import { registerWebgpuSumKernel } from './sum';

/** `stock`: keep tfjs's own conv, sum and ReLU-gradient kernels (FEATURE_COMPLEXITY_WEBGPU_KERNELS=stock, for comparisons); the fused Adam update is always ours. */
export function registerWebgpuKernels(stock: boolean): void {
  registerWebgpuAdamKernel();
  if (stock) return;
  registerWebgpuConvKernels();
  registerWebgpuSumKernel();
  registerWebgpuReluGrad();
}
