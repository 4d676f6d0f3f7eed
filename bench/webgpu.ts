/**
 * Training-step benchmark on the webgpu backend: one Adam step of a disentangler (the network of
 * bench/run.ts), with tf.train.adam and with the fused Adam update, counting the GPU work of a
 * step (compute dispatches and queue submits) beside its wall time; optionally against the same
 * step in PyTorch (bench/gpu/torch_cuda_step.py, CUDA when present) in the same invocation.
 * Prints one JSON object per line.
 *
 *   node --import tsx bench/webgpu.ts [--size tiny|small|mid|large|xl|all] [--steps N]
 *       [--warmup N] [--optimizer stock|fused|both] [--torch cuda|cpu|none] [--python PATH]
 *       [--torch-script PATH] [--batch N] [--image H]
 *
 * --batch and --image shrink a size (batch, input height = width; the target keeps the 4× ratio)
 * while keeping its network: the dispatch count of a step depends on the network, not on the
 * tensor sizes, so a small stand-in counts it on a slow software adapter.
 *
 * Uses the WebGPU adapter Dawn finds, software ones included (set FEATURE_COMPLEXITY_VULKAN_ICD
 * to /usr/lib/chromium/vk_swiftshader_icd.json to run on SwiftShader without a GPU): times on a
 * software adapter only show that the step runs; dispatch counts are the same on any adapter.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initWebgpu, tf, useBackend } from '../src/analysis/tf/backend';
import { adam } from '../src/analysis/tf/kernels/adam';
import { countGpuWork } from '../src/analysis/tf/kernels/webgpu/util';
import { Disentangler, blocksPerStage, stageStrides, trainStep, type DisentanglerSpec } from '../src/analysis/pipeline/disentangler';

interface Size {
  name: string;
  batch: number;
  spec: DisentanglerSpec;
}

/** small … xl are PLATFORM.md's four sizes (B32 C64 R4 … B64 C512 R32) on 32×32×3 → 8×8×C images. */
const SIZES: Record<string, Size> = {
  tiny: { name: 'step B4 16x16x3->4x4x8 C8 l2', batch: 4, spec: { order: 2, width: 8, inputShape: [16, 16, 3], targetShape: [4, 4, 8] } },
  small: { name: 'step B32 32x32x3->8x8x64 C64 l4', batch: 32, spec: { order: 4, width: 64, inputShape: [32, 32, 3], targetShape: [8, 8, 64] } },
  mid: { name: 'step B128 32x32x3->8x8x128 C128 l8', batch: 128, spec: { order: 8, width: 128, inputShape: [32, 32, 3], targetShape: [8, 8, 128] } },
  large: { name: 'step B128 32x32x3->8x8x256 C256 l16', batch: 128, spec: { order: 16, width: 256, inputShape: [32, 32, 3], targetShape: [8, 8, 256] } },
  xl: { name: 'step B64 32x32x3->8x8x512 C512 l32', batch: 64, spec: { order: 32, width: 512, inputShape: [32, 32, 3], targetShape: [8, 8, 512] } },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

interface StepStats {
  ms: number;
  dispatches: number;
  submits: number;
  variables: number;
  loss: number;
}

async function ours(size: Size, optimizer: 'stock' | 'fused', warmup: number, steps: number): Promise<StepStats> {
  const net = Disentangler.create(size.spec, 1);
  const opt = optimizer === 'fused' ? adam(1e-3) : tf.train.adam(1e-3);
  const x = tf.randomUniform([size.batch, ...size.spec.inputShape], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.randomUniform([size.batch, ...size.spec.targetShape], 0, 1, 'float32', 3) as tf.Tensor4D;
  const read = countGpuWork(tf.backend());
  // The first step also compiles the pipelines and creates Adam's moments.
  for (let i = 0; i < Math.max(1, warmup); i++) await trainStep(net, opt, x, y);
  const times: number[] = [];
  let loss = 0;
  read();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    loss = await trainStep(net, opt, x, y);
    times.push(performance.now() - t0);
  }
  const work = read();
  const variables = net.variables.length;
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return { ms: median(times), dispatches: work.dispatches / steps, submits: work.submits / steps, variables, loss };
}

function torchReference(
  size: Size,
  device: string,
  python: string,
  script: string,
  warmup: number,
  steps: number,
): { ms: number; device: string; torch: string } {
  const { spec } = size;
  const plan = {
    width: spec.width,
    inputShape: spec.inputShape,
    targetShape: spec.targetShape,
    stages: blocksPerStage(spec.order).map((blocks, i) => ({
      blocks,
      strides: [stageStrides(spec.inputShape[0], spec.targetShape[0])[i], stageStrides(spec.inputShape[1], spec.targetShape[1])[i]],
    })),
    batch: size.batch,
    warmup: Math.max(warmup, 3),
    steps: Math.max(steps, 10),
    device,
  };
  const out = execFileSync(python, [script, JSON.stringify(plan)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop() as string) as { median_ms: number; device: string; torch: string };
  return { ms: r.median_ms, device: r.device, torch: r.torch };
}

/** The same network on another batch or image size (the name says which). */
function resized(size: Size, batch?: number, image?: number): Size {
  if (batch === undefined && image === undefined) return size;
  const b = batch ?? size.batch;
  const h = image ?? size.spec.inputShape[0];
  if (h % 4 !== 0) throw new Error('--image must be a multiple of 4 (the target is 4× smaller)');
  const [, , cin] = size.spec.inputShape;
  const c = size.spec.targetShape[2];
  const spec: DisentanglerSpec = { ...size.spec, inputShape: [h, h, cin], targetShape: [h / 4, h / 4, c] };
  return { name: `step B${b} ${h}x${h}x${cin}->${h / 4}x${h / 4}x${c} C${spec.width} l${spec.order}`, batch: b, spec };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: 'mid' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      optimizer: { type: 'string', default: 'both' },
      torch: { type: 'string', default: 'none' },
      python: { type: 'string', default: process.env.BENCH_PYTHON ?? 'python3' },
      'torch-script': { type: 'string', default: join(__dirname, 'gpu', 'torch_cuda_step.py') },
      batch: { type: 'string' },
      image: { type: 'string' },
    },
  });
  const names = values.size === 'all' ? ['small', 'mid', 'large', 'xl'] : values.size!.split(',');
  for (const n of names) if (!SIZES[n]) throw new Error(`unknown size '${n}' (${Object.keys(SIZES).join(', ')}, all)`);
  const optimizers = values.optimizer === 'both' ? (['stock', 'fused'] as const) : [values.optimizer as 'stock' | 'fused'];
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const adapter = await initWebgpu();
  await useBackend('webgpu');
  const adapterName = `${adapter.description || adapter.architecture || adapter.vendor}${adapter.software ? ` (software: ${adapter.software})` : ''}`;
  for (const n of names) {
    const size = resized(
      SIZES[n],
      values.batch === undefined ? undefined : Number(values.batch),
      values.image === undefined ? undefined : Number(values.image),
    );
    let ref: { ms: number; device: string; torch: string } | undefined;
    let refError: string | undefined;
    try {
      if (values.torch !== 'none') ref = torchReference(size, values.torch!, values.python!, values['torch-script']!, warmup, steps);
    } catch (e) {
      // The webgpu lines are still worth having without the reference.
      refError = (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 2).join(' ');
      console.error(e);
    }
    for (const optimizer of optimizers) {
      const s = await ours(size, optimizer, warmup, steps);
      console.log(
        JSON.stringify({
          bench: size.name,
          backend: 'webgpu',
          adapter: adapterName,
          optimizer: optimizer === 'fused' ? 'fused Adam (one dispatch per variable)' : 'tf.train.adam',
          variables: s.variables,
          ms: round(s.ms),
          dispatches_per_step: round(s.dispatches, 1),
          submits_per_step: round(s.submits, 1),
          loss: s.loss,
          reference: ref ? `pytorch ${ref.torch} ${ref.device}` : null,
          reference_ms: ref ? round(ref.ms) : null,
          ratio: ref ? round(s.ms / ref.ms) : null,
          ...(refError ? { reference_error: refError } : {}),
        }),
      );
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
