#!/usr/bin/env bash
# On the GPU machine (device tool; repo root; .dev/gpu carried, made by bench/gpu/prepare.sh):
#   1. the training step on webgpu (tf.train.adam and the fused Adam; tfjs's stock conv kernels
#      and ours) against PyTorch CUDA on the same network and sizes (bench/webgpu.ts);
#   2. a whole `standard` analysis of a zoo teacher on webgpu, and the same on the CPU (wasm)
#      at the same time in the background.
# Everything is written to $OUT (JSON lines, logs, result files, summary.json); the whole run is
# held under ~8 minutes by per-part timeouts. Check locally: bash bench/gpu/run.sh --local
# (SwiftShader adapter, tiny size, short timeouts, writes to ./.dev/gpu-out).
set -uo pipefail
cd "$(dirname "$0")/../.."
D=.dev/gpu
LOCAL=0
[ "${1:-}" = "--local" ] && LOCAL=1
if [ $LOCAL = 1 ]; then
  OUT=${OUT:-.dev/gpu-out}
  SIZES=tiny; STEPS=2; WARMUP=1; T_STEP=300; T_GPU=120; T_CPU=120; ORDERS=0
  export FEATURE_COMPLEXITY_VULKAN_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
  TORCH=cpu
  PYTHON=${PYTHON:-/usr/bin/python3}
else
  SIZES=all; STEPS=10; WARMUP=3; T_STEP=200; T_GPU=240; T_CPU=450; ORDERS=0,1,2,4
  TORCH=cuda
  PYTHON=${PYTHON:-python3}
fi
mkdir -p "$OUT"
rm -f "$OUT/steps.jsonl" "$OUT/steps.err"
t_start=$(date +%s)

# --- set-up: Vulkan loader, Node, Dawn ---------------------------------------------------------
if [ $LOCAL = 0 ]; then
  for f in "$D"/deb/*.deb; do dpkg -x "$f" /; done
  ldconfig
  ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$ICD" ] || ICD=$(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)
  [ -n "$ICD" ] && export FEATURE_COMPLEXITY_VULKAN_ICD=$ICD
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.csv" 2>&1
fi
unxz() { # file.xz > stdout (python3's lzma where xz is missing)
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
NODE_DIR=/tmp/fc-node
mkdir -p "$NODE_DIR"
[ -x "$NODE_DIR/node" ] || { unxz "$D/node.xz" > "$NODE_DIR/node" && chmod +x "$NODE_DIR/node"; }
export PATH="$NODE_DIR:$PATH"
mkdir -p "$D/node_modules/webgpu/dist/linux-x64"
[ -f "$D/node_modules/webgpu/dist/linux-x64/dawn.node" ] || unxz "$D/dawn.node.xz" > "$D/node_modules/webgpu/dist/linux-x64/dawn.node"
node "$D/engine.js" capabilities --json > "$OUT/capabilities.json" 2> "$OUT/capabilities.err"

MODEL="$D/zoo/model/model.json"
DATA="$D/zoo/data"
analysis() { # backend timeout
  local b=$1 t=$2 s e rc
  s=$(date +%s%N)
  timeout "$t" node "$D/engine.js" analyze "$MODEL" --data "$DATA" --budget standard --orders "$ORDERS" --width 8 \
    --backend "$b" --seed 1 --out "$OUT/analysis-$b.json" > "$OUT/analysis-$b.log" 2>&1
  rc=$?
  e=$(date +%s%N)
  echo "{\"backend\":\"$b\",\"rc\":$rc,\"timed_out\":$([ $rc = 124 ] && echo true || echo false),\"wall_ms\":$(( (e - s) / 1000000 ))}" > "$OUT/analysis-$b.time.json"
}

# --- 2b. the CPU analysis runs beside everything else (wasm uses one core of 16) -----------------
analysis wasm "$T_CPU" &
CPU_JOB=$!

# --- 1. training steps --------------------------------------------------------------------------
for kernels in ours stock; do
  FEATURE_COMPLEXITY_WEBGPU_KERNELS=$kernels timeout "$T_STEP" node "$D/webgpu-bench.js" --size "$SIZES" \
    --steps "$STEPS" --warmup "$WARMUP" --torch "$([ $kernels = ours ] && echo $TORCH || echo none)" \
    --python "$PYTHON" --torch-script bench/gpu/torch_cuda_step.py 2>> "$OUT/steps.err" \
    | sed "s/^{/{\"kernels\":\"$kernels\",/" >> "$OUT/steps.jsonl"
done

# --- 2a. the webgpu analysis ----------------------------------------------------------------------
analysis webgpu "$T_GPU"
wait "$CPU_JOB"

node -e '
const fs = require("fs"); const out = process.argv[1];
const read = (f) => { try { return JSON.parse(fs.readFileSync(out + "/" + f, "utf8")); } catch { return null; } };
const steps = (() => { try { return fs.readFileSync(out + "/steps.jsonl", "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } })();
const an = (b) => { const r = read("analysis-" + b + ".json"); return { ...read("analysis-" + b + ".time.json"), complete: r ? r.complete : null, timing: r ? r.timing : null, rho: r && r.components ? r.components.map((c) => [c.order, c.rho]) : null }; };
fs.writeFileSync(out + "/summary.json", JSON.stringify({ steps, analysis: { webgpu: an("webgpu"), wasm: an("wasm") }, wall_s: Number(process.argv[2]) }, null, 1));
' "$OUT" "$(( $(date +%s) - t_start ))"
cat "$OUT/summary.json"
