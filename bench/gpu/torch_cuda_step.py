"""PyTorch reference for bench/webgpu.ts: the disentangler of bench/torch_step.py and the same
Adam step of MSE, on a CUDA GPU (or the CPU when CUDA is absent or the plan asks for "cpu").

Reads one JSON plan from argv[1] (bench/torch_step.py's plan, plus "device") and prints one JSON
line: {"median_ms", "device", "torch"}. Each timed step ends with torch.cuda.synchronize() and
reads the loss (loss.item()), as the TensorFlow.js step reads its loss.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from torch_step import Disentangler  # noqa: E402


def main():
    plan = json.loads(sys.argv[1])
    want = plan.get("device", "cuda")
    device = torch.device("cuda" if want == "cuda" and torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = Disentangler(plan).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n = plan["batch"]
    h, w, cin = plan["inputShape"]
    th, tw, tc = plan["targetShape"]
    x = torch.rand(n, cin, h, w, device=device)
    y = torch.randn(n, tc, th, tw, device=device)
    assert net(x).shape == y.shape, (net(x).shape, y.shape)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(plan["warmup"]):
        step()
    sync()
    times = []
    for _ in range(plan["steps"]):
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(json.dumps({"median_ms": statistics.median(times), "device": name, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
