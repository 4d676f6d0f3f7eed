/**
 * Per-conv CPU time on the wasm backend (B32, 3×3, stride 1, 'same'): forward, input gradient and
 * filter gradient of each size, through the registered kernels, as one JSON line per conv:
 * {conv, winograd, forward_cpu_ms, input_grad_cpu_ms, filter_grad_cpu_ms} (medians of 7, after 3
 * warm-up calls).
 * Run it twice to compare the Winograd kernels with the direct ones:
 *
 *   node --import tsx bench/convs.ts [--sizes 32x32x64,28x28x16]
 *   FEATURE_COMPLEXITY_WASM_WINOGRAD=off node --import tsx bench/convs.ts
 */
import { parseArgs } from 'node:util';
import { tf, useBackend } from '../src/analysis/tf/backend';

const DEFAULT_SIZES = '32x32x128,32x32x64,16x16x64,8x8x64,28x28x32,14x14x32,7x7x32,28x28x16,14x14x16,7x7x16,28x28x8';

function medianCpuMs(f: () => void, runs = 7): number {
  // Warm-up: V8 first runs WebAssembly through its baseline compiler and tiers hot code up later.
  for (let i = 0; i < 3; i++) f();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[runs >> 1];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, batch: { type: 'string' } } });
  await useBackend('wasm');
  const batch = Number(values.batch ?? 32);
  for (const size of (values.sizes ?? DEFAULT_SIZES).split(',')) {
    const [h, w, c] = size.split('x').map(Number);
    const x = tf.randomNormal([batch, h, w, c]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, c, c], 0, 0.1) as tf.Tensor4D;
    const dy = tf.randomNormal([batch, h, w, c]) as tf.Tensor4D;
    const forward = medianCpuMs(() => tf.conv2d(x, f, 1, 'same').dispose());
    const inputGrad = medianCpuMs(() => tf.conv2dTranspose(dy, f, [batch, h, w, c], 1, 'same').dispose());
    const filterGrad = medianCpuMs(() =>
      (
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
          strides: 1,
          pad: 'same',
          dataFormat: 'NHWC',
          dimRoundingMode: undefined,
          filterShape: [3, 3, c, c],
        } as unknown as tf.NamedAttrMap) as tf.Tensor
      ).dispose(),
    );
    const line = {
      conv: `B${batch} ${h}x${w} ${c}->${c}`,
      winograd: process.env.FEATURE_COMPLEXITY_WASM_WINOGRAD !== 'off',
      forward_cpu_ms: +forward.toFixed(2),
      input_grad_cpu_ms: +inputGrad.toFixed(2),
      filter_grad_cpu_ms: +filterGrad.toFixed(2),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    tf.dispose([x, f, dy]);
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
