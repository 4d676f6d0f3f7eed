"""PyTorch reference for bench/run.ts: the same disentangler and Adam step, timed on the CPU.

Reads one JSON plan from argv[1] (layer list computed by the TypeScript side, so both nets are
the same) and prints one JSON line: {"median_ms", "median_cpu_ms", "threads", "torch"}
(CPU time summed over all threads, which shows how much of a wall-clock number is waiting on
other processes).
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Disentangler(nn.Module):
    def __init__(self, plan):
        super().__init__()
        c = plan["width"]
        cin = plan["inputShape"][2]
        cout = plan["targetShape"][2]
        self.inp = nn.Conv2d(cin, c, 3, padding=1)
        self.stages = nn.ModuleList()
        self.projs = nn.ModuleList()
        self.has_proj = []
        for st in plan["stages"]:
            s = tuple(st["strides"])
            k = tuple(max(3, v) for v in s)
            strided = s != (1, 1)
            self.has_proj.append(strided)
            self.projs.append(nn.Conv2d(c, c, k, stride=s, padding=tuple((v - 1) // 2 for v in k)) if strided else nn.Identity())
            blocks = nn.ModuleList()
            for b in range(st["blocks"]):
                blocks.append(nn.Conv2d(c, c, 3, stride=s if b == 0 else 1, padding=1))
            self.stages.append(blocks)
        self.out = nn.Conv2d(c, cout, 1)

    def forward(self, x):
        h = self.inp(x)
        for proj, blocks, strided in zip(self.projs, self.stages, self.has_proj):
            start = 0
            if strided:
                skip = proj(h)
                if len(blocks) > 0:
                    h = skip + blocks[0](F.relu(h))
                    start = 1
                else:
                    h = skip
            for b in blocks[start:]:
                h = h + b(F.relu(h))
        return self.out(h)


def time_op(plan):
    """One primitive (matmul or forward conv) alone, to show the raw throughput gap."""
    torch.manual_seed(0)
    if plan["op"] == "matmul":
        m, k, n = plan["shape"]
        a, b = torch.randn(m, k), torch.randn(k, n)
        fn = lambda: torch.mm(a, b)
    else:
        nb, h, w, c, co, kk = plan["shape"]
        x, f = torch.randn(nb, c, h, w), torch.randn(co, c, kk, kk)
        fn = lambda: F.conv2d(x, f, padding=kk // 2)
    with torch.no_grad():
        for _ in range(plan["warmup"]):
            fn()
        times = []
        cpu = []
        for _ in range(plan["steps"]):
            t0 = time.perf_counter()
            c0 = time.process_time()
            fn()
            cpu.append((time.process_time() - c0) * 1000)
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"median_ms": statistics.median(times), "median_cpu_ms": statistics.median(cpu), "threads": torch.get_num_threads(), "torch": torch.__version__}))


def main():
    plan = json.loads(sys.argv[1])
    if plan.get("threads"):
        torch.set_num_threads(plan["threads"])
    if "op" in plan:
        time_op(plan)
        return
    torch.manual_seed(0)
    net = Disentangler(plan)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n = plan["batch"]
    h, w, cin = plan["inputShape"]
    th, tw, tc = plan["targetShape"]
    x = torch.rand(n, cin, h, w)
    y = torch.randn(n, tc, th, tw)
    assert net(x).shape == y.shape, (net(x).shape, y.shape)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(plan["warmup"]):
        step()
    times = []
    cpu = []
    for _ in range(plan["steps"]):
        t0 = time.perf_counter()
        c0 = time.process_time()
        step()
        cpu.append((time.process_time() - c0) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"median_ms": statistics.median(times), "median_cpu_ms": statistics.median(cpu), "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
