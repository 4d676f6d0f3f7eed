#!/usr/bin/env bash
# Builds .dev/gpu, everything bench/gpu/run.sh needs on the GPU machine, which has no Node.js and
# no network (PLATFORM.md, "The GPU machine"). Run here, on the CPU machine, from anywhere:
#
#   bash bench/gpu/prepare.sh
#
# then, with the device tool: command `bash bench/gpu/run.sh`, carry [".dev/gpu"], timeout 540.
# .dev/ is added to .git/info/exclude (it is carried, never committed). About 35 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=.dev/gpu
ZOO=${FC_ZOO_DIR:-../fc-zoo}
TEACHER=${FC_GPU_TEACHER:-cnn-d2-n1000-s1}
DATA=${FC_GPU_DATA:-n1000}

grep -qx '/.dev/' .git/info/exclude || echo '/.dev/' >> .git/info/exclude
rm -rf "$D"
mkdir -p "$D/deb" "$D/node_modules/webgpu" "$D/zoo"

# Node.js itself (same binary as here; x86-64 on both machines).
xz -T0 -c "$(command -v node)" > "$D/node.xz"

# The Vulkan loader for Dawn (libvulkan1); the machine's NVIDIA driver provides the ICD.
(cd "$D/deb" && apt-get download libvulkan1 >/dev/null)

# The engine (CLI: analyze) and the step benchmark, bundled; `webgpu` (Dawn) stays outside and is
# loaded from $D/node_modules/webgpu at run time.
EXTERNAL=(--external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:onnxruntime-node)
npx esbuild src/analysis/main.ts --bundle --platform=node --format=cjs --target=node20 --log-level=warning "${EXTERNAL[@]}" --outfile="$D/engine.js"
npx esbuild bench/webgpu.ts --bundle --platform=node --format=cjs --target=node20 --log-level=warning "${EXTERNAL[@]}" --outfile="$D/webgpu-bench.js"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$D/"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$D/node_modules/webgpu/"
xz -T0 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$D/dawn.node.xz"

# A zoo teacher and its data (experiments/zoo/train-zoo.ts made them).
cp -r "$ZOO/models/$TEACHER" "$D/zoo/model"
cp -r "$ZOO/data/$DATA" "$D/zoo/data"

du -sh "$D"
