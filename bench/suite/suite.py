"""The convergence suite of issue #12: teachers of other shapes, and a reference ρ for each,
computed by an implementation independent of the engine (PyTorch, Debian's python3-torch).

Run with Debian's /usr/bin/python3 (it has torch):

  /usr/bin/python3 bench/suite/suite.py teachers            # data + train + ONNX export (minutes)
  /usr/bin/python3 bench/suite/suite.py reference [NAME..]  # reference ρ per teacher (long)

Writes under $FC_SUITE_DIR (default ../fc-suite, outside git):
  data/fmnist.npz, data/cifar-shaped.npz   the datasets the engine reads (x uint8 NHWC, y int)
  <name>.onnx                              the teacher, exported by torch.onnx.export (NCHW input)
  <name>.pt                                its state dict
and bench/suite/references.json (in git): per teacher, its accuracy, the target layer's ONNX
name, and the reference ρ of orders 0, 2, 4, 8 on the test samples (and on train samples), with
the fit of every order and its curve, so that a reader can see the reference converged.

The reference disentangler (METHOD.md §1, written from the method, not from the engine):
Φ⁽ˡ⁾ is the teacher's own chain of spatial operations with C channels and no nonlinearity (each
conv or pooling window becomes a linear conv with the same kernel, stride and padding, so Φ⁽⁰⁾
can represent the teacher with its ReLUs removed, borders included), with l residual blocks
h ← h + conv3×3(ReLU(h)) spread over the chain as evenly as possible (later positions take the
remainder), and a final 1×1 conv to the target's channels. Trained with Adam on MSE, lr
log-spaced 1e-3 → 1e-5, batch 128, EPOCHS epochs of 2000 images resampled from a pool of
10 000, no augmentation; each order is warm-started from the one before (new blocks start as
the identity); order 0 is then polished with L-BFGS (100 iterations on 2000 images) and keeps whichever fits the
monitor samples better.
"""
import json
import math
import os
import sys
import time
import gzip

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get('FC_SUITE_DIR', os.path.join(HERE, '..', '..', '..', 'fc-suite'))
FMNIST = os.environ.get('FC_FASHION_MNIST', '/usr/share/datasets/fashion-mnist')
REFS = os.path.join(HERE, 'references.json')
ORDERS = [0, 2, 4, 8]
WIDTH = int(os.environ.get('FC_SUITE_WIDTH', '32'))
EPOCHS = int(os.environ.get('FC_SUITE_EPOCHS', '120'))
POOL = 10000
PER_EPOCH = 2000
EVAL = 2000
torch.set_num_threads(int(os.environ.get('FC_SUITE_THREADS', '2')))


# ---------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fmnist():
    x_tr = read_idx(os.path.join(FMNIST, 'train-images-idx3-ubyte.gz'))[..., None]
    y_tr = read_idx(os.path.join(FMNIST, 'train-labels-idx1-ubyte.gz')).astype(np.int64)
    x_te = read_idx(os.path.join(FMNIST, 't10k-images-idx3-ubyte.gz'))[..., None]
    y_te = read_idx(os.path.join(FMNIST, 't10k-labels-idx1-ubyte.gz')).astype(np.int64)
    return x_tr, y_tr, x_te, y_te


def cifar_shaped(rng):
    """32×32 RGB images: Fashion-MNIST padded by 2 and tinted by a random colour per image (the
    tint carries no label), so the teacher sees a CIFAR-10-shaped input with real structure."""
    x_tr, y_tr, x_te, y_te = fmnist()

    def tint(x):
        x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
        c = rng.uniform(0.35, 1.0, size=(x.shape[0], 1, 1, 3))
        bg = rng.uniform(0.0, 0.25, size=(x.shape[0], 1, 1, 3)) * 255
        xf = x.astype(np.float32)
        out = xf * c + bg * (1 - xf / 255)
        return np.clip(out, 0, 255).astype(np.uint8)
    return tint(x_tr[:20000]), y_tr[:20000], tint(x_te), y_te


# ---------------------------------------------------------------- teachers
# Each teacher: the trunk's layers as a list of (kind, args); 'conv' (cin, cout, k, stride, pad),
# 'pool' (k, stride, pad) max pooling, 'avg' (k, stride, pad), 'bn' (channels), 'relu'. The target
# is the trunk's output. The head: 'flatten' or 'gap', then a linear layer to 10 classes.
TEACHERS = {
    # The PyTorch CNN: symmetric padding=1 with stride 2 (TF 'same' would pad 0,1).
    'torch3': dict(data='fmnist', split='tune', head='flatten', trunk=[
        ('conv', 1, 16, 3, 1, 1), ('relu',), ('conv', 16, 32, 3, 2, 1), ('relu',),
        ('conv', 32, 32, 3, 2, 1), ('relu',)]),
    # LeNet-like: valid 5×5 convs and 2×2 max pooling; the target is the second ReLU (8×8).
    'pool2': dict(data='fmnist', split='tune', head='flatten', trunk=[
        ('conv', 1, 16, 5, 1, 0), ('relu',), ('pool', 2, 2, 0), ('conv', 16, 24, 5, 1, 0), ('relu',)]),
    # Four convs with batch norm, strided twice, a global-average-pooling head.
    'bn4gap': dict(data='fmnist', split='check', head='gap', trunk=[
        ('conv', 1, 16, 3, 1, 1), ('bn', 16), ('relu',), ('conv', 16, 16, 3, 1, 1), ('bn', 16), ('relu',),
        ('conv', 16, 32, 3, 2, 1), ('bn', 32), ('relu',), ('conv', 32, 32, 3, 2, 1), ('bn', 32), ('relu',)]),
    # Two convs, 5×5 stride 2 then 3×3 stride 2, target 7×7×24.
    'stride2': dict(data='fmnist', split='check', head='flatten', trunk=[
        ('conv', 1, 16, 5, 2, 2), ('relu',), ('conv', 16, 24, 3, 2, 1), ('relu',)]),
    # A CIFAR-shaped input (32×32×3): conv, avg-pool, two convs; target 8×8×32.
    'cifar3': dict(data='cifar-shaped', split='check', head='flatten', trunk=[
        ('conv', 3, 16, 3, 1, 1), ('relu',), ('avg', 2, 2, 0), ('conv', 16, 32, 3, 1, 1), ('relu',),
        ('conv', 32, 32, 3, 2, 1), ('relu',)]),
}


class Teacher(nn.Module):
    def __init__(self, spec, in_hw):
        super().__init__()
        mods = []
        for op in spec['trunk']:
            kind = op[0]
            if kind == 'conv':
                mods.append(nn.Conv2d(op[1], op[2], op[3], stride=op[4], padding=op[5]))
            elif kind == 'relu':
                mods.append(nn.ReLU())
            elif kind == 'bn':
                mods.append(nn.BatchNorm2d(op[1]))
            elif kind == 'pool':
                mods.append(nn.MaxPool2d(op[1], stride=op[2], padding=op[3]))
            elif kind == 'avg':
                mods.append(nn.AvgPool2d(op[1], stride=op[2], padding=op[3]))
        self.trunk = nn.Sequential(*mods)
        cin = spec['trunk'][0][1]
        with torch.no_grad():
            t = self.trunk(torch.zeros(1, cin, *in_hw))
        self.feature_shape = tuple(t.shape[1:])
        self.gap = spec['head'] == 'gap'
        self.fc = nn.Linear(t.shape[1] if self.gap else t.numel(), 10)

    def forward(self, x):
        h = self.trunk(x)
        h = h.mean(dim=(2, 3)) if self.gap else torch.flatten(h, 1)
        return self.fc(h)


def load_data(name):
    p = os.path.join(OUT, 'data', f'{name}.npz')
    d = np.load(p)
    return d['x_train'], d['y_train'], d['x_test'], d['y_test']


def to_tensor(x):
    return torch.from_numpy(x.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()


def make_teachers():
    os.makedirs(os.path.join(OUT, 'data'), exist_ok=True)
    rng = np.random.default_rng(0)
    if not os.path.exists(os.path.join(OUT, 'data', 'fmnist.npz')):
        x_tr, y_tr, x_te, y_te = fmnist()
        np.savez(os.path.join(OUT, 'data', 'fmnist.npz'), x_train=x_tr[:20000], y_train=y_tr[:20000], x_test=x_te, y_test=y_te)
    if not os.path.exists(os.path.join(OUT, 'data', 'cifar-shaped.npz')):
        x_tr, y_tr, x_te, y_te = cifar_shaped(rng)
        np.savez(os.path.join(OUT, 'data', 'cifar-shaped.npz'), x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    refs = read_refs()
    for name, spec in TEACHERS.items():
        torch.manual_seed(1)
        x_tr, y_tr, x_te, y_te = load_data(spec['data'])
        xt, yt = to_tensor(x_tr[:8000]), torch.from_numpy(y_tr[:8000].astype(np.int64))
        net = Teacher(spec, xt.shape[2:])
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        net.train()
        for epoch in range(3):
            perm = torch.randperm(xt.shape[0])
            for i in range(0, xt.shape[0], 64):
                b = perm[i:i + 64]
                loss = F.cross_entropy(net(xt[b]), yt[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            xe = to_tensor(x_te[:2000])
            acc = float((net(xe).argmax(1).numpy() == y_te[:2000]).mean())
        torch.save(net.state_dict(), os.path.join(OUT, f'{name}.pt'))
        target = export(net, name, xt.shape[1:])
        entry = refs.setdefault(name, {})
        entry.update(dict(data=spec['data'], split=spec['split'], head=spec['head'],
                          trunk=[list(op) for op in spec['trunk']], testAccuracy2000=acc,
                          targetLayer=target, featureShape=list(net.feature_shape)))
        print(f'{name}: test accuracy {acc:.3f} on 2000, target {target} {net.feature_shape}', flush=True)
        write_refs(refs)


def export(net, name, chw):
    """ONNX export with the trunk's output as a second graph output, so that its node name is the
    target layer the engine is asked for; returns that name."""
    class Both(nn.Module):
        def __init__(self, t):
            super().__init__()
            self.t = t

        def forward(self, x):
            return self.t(x)
    path = os.path.join(OUT, f'{name}.onnx')
    torch.onnx.export(Both(net), torch.zeros(1, *chw), path, input_names=['image'], output_names=['logits'],
                      opset_version=13, dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
    # The target is the trunk's last op: the last Relu node's output in the exported graph.
    import re
    with open(path, 'rb') as f:
        raw = f.read()
    last = max(int(n) for n in re.findall(rb'/t/trunk/trunk\.(\d+)/Relu', raw))
    return f'/t/trunk/trunk.{last}/Relu_output_0'


# ---------------------------------------------------------------- the reference disentangler

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, h):
        return h + self.conv(F.relu(h))


class Disentangler(nn.Module):
    def __init__(self, spec, order, width, out_channels):
        super().__init__()
        ops = [op for op in spec['trunk'] if op[0] in ('conv', 'pool', 'avg')]
        cin = spec['trunk'][0][1]
        self.skeleton = nn.ModuleList()
        for i, op in enumerate(ops):
            k, s, p = (op[3], op[4], op[5]) if op[0] == 'conv' else (op[1], op[2], op[3])
            self.skeleton.append(nn.Conv2d(cin if i == 0 else width, width, k, stride=s, padding=p))
        n = len(ops)
        base, rest = divmod(order, n)
        counts = [base + (1 if i >= n - rest else 0) for i in range(n)]
        self.blocks = nn.ModuleList(nn.ModuleList(Block(width) for _ in range(c)) for c in counts)
        self.out = nn.Conv2d(width, out_channels, 1)

    def forward(self, x):
        h = x
        for conv, blocks in zip(self.skeleton, self.blocks):
            h = conv(h)
            for b in blocks:
                h = b(h)
        return self.out(h)

    def warm_from(self, prev):
        self.skeleton.load_state_dict(prev.skeleton.state_dict())
        self.out.load_state_dict(prev.out.state_dict())
        for mine, theirs in zip(self.blocks, prev.blocks):
            for i, b in enumerate(theirs):
                mine[i].load_state_dict(b.state_dict())


def features(net, x, batch=500):
    with torch.no_grad():
        return torch.cat([net.trunk(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def predict(phi, x, batch=500):
    with torch.no_grad():
        return torch.cat([phi(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def var(z):
    z = z.reshape(z.shape[0], -1)
    return float(((z - z.mean(0)) ** 2).sum(1).mean())


def reference(names):
    refs = read_refs()
    for name in names:
        spec = TEACHERS[name]
        x_tr, y_tr, x_te, y_te = load_data(spec['data'])
        net = Teacher(spec, (x_tr.shape[1], x_tr.shape[2]))
        net.load_state_dict(torch.load(os.path.join(OUT, f'{name}.pt')))
        net.eval()
        g = torch.Generator().manual_seed(0)
        perm = torch.randperm(x_tr.shape[0], generator=g)
        mon_idx, pool_idx = perm[:512], perm[512:512 + POOL]
        x_pool = to_tensor(x_tr[pool_idx.numpy()])
        f_pool = features(net, x_pool)
        x_mon = to_tensor(x_tr[mon_idx.numpy()])
        f_mon = features(net, x_mon)
        x_test = to_tensor(x_te[:EVAL])
        f_test = features(net, x_test)
        x_tre, f_tre = x_pool[:EVAL], f_pool[:EVAL]
        vf_test, vf_train = var(f_test), var(f_tre)
        prev = None
        out = dict(width=WIDTH, epochs=EPOCHS, orders={})
        phis_test, phis_train = [], []
        t0 = time.time()
        for order in ORDERS:
            phi = Disentangler(spec, order, WIDTH, f_pool.shape[1])
            if prev is not None:
                phi.warm_from(prev)
            curve = train(phi, x_pool, f_pool, x_mon, f_mon, order == 0)
            p_test, p_train = predict(phi, x_test), predict(phi, x_tre)
            fit_test = 1 - float(((p_test - f_test) ** 2).sum() / f_test.shape[0]) / vf_test
            last_test = phis_test[-1] if phis_test else torch.zeros_like(p_test)
            last_train = phis_train[-1] if phis_train else torch.zeros_like(p_train)
            rho_test = var(p_test - last_test) / vf_test
            rho_train = var(p_train - last_train) / vf_train
            phis_test.append(p_test)
            phis_train.append(p_train)
            out['orders'][str(order)] = dict(rhoTest=rho_test, rhoTrain=rho_train, fitTest=fit_test, curve=curve)
            print(f'{name} order {order}: rho test {rho_test:.4f} train {rho_train:.4f} fit {fit_test:.4f} '
                  f'({time.time() - t0:.0f} s) curve {[round(c, 4) for c in curve[-4:]]}', flush=True)
            prev = phi
        out['residueTest'] = var(f_test - phis_test[-1]) / vf_test
        out['seconds'] = round(time.time() - t0)
        refs = read_refs()  # another run may have written its teacher meanwhile
        refs[name]['reference'] = out
        write_refs(refs)


def mon_fit(phi, x_mon, f_mon):
    p = predict(phi, x_mon)
    return 1 - float(((p - f_mon) ** 2).sum() / f_mon.shape[0]) / var(f_mon)


def train(phi, x_pool, f_pool, x_mon, f_mon, linear):
    opt = torch.optim.Adam(phi.parameters(), lr=1e-3)
    steps_per_epoch = math.ceil(PER_EPOCH / 128)
    curve = []
    for epoch in range(EPOCHS):
        lr = 1e-3 * (1e-2 ** (epoch / max(1, EPOCHS - 1)))
        for gp in opt.param_groups:
            gp['lr'] = lr
        idx = torch.randint(0, x_pool.shape[0], (PER_EPOCH,))
        for s in range(steps_per_epoch):
            b = idx[s * 128:(s + 1) * 128]
            loss = F.mse_loss(phi(x_pool[b]), f_pool[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if (epoch + 1) % max(1, EPOCHS // 10) == 0:
            curve.append(mon_fit(phi, x_mon, f_mon))
            print(f'  epoch {epoch + 1}: monitor fit {curve[-1]:.4f}', flush=True)
    if linear:
        before = {k: v.clone() for k, v in phi.state_dict().items()}
        fit_before = mon_fit(phi, x_mon, f_mon)
        xs, fs = x_pool[:2000], f_pool[:2000]
        lb = torch.optim.LBFGS(phi.parameters(), lr=1, max_iter=100, history_size=20, line_search_fn='strong_wolfe')

        def closure():
            lb.zero_grad()
            loss = F.mse_loss(phi(xs), fs)
            loss.backward()
            return loss
        lb.step(closure)
        fit_after = mon_fit(phi, x_mon, f_mon)
        curve.append(fit_after)
        if not fit_after > fit_before:
            phi.load_state_dict(before)
    return curve


def read_refs():
    if os.path.exists(REFS):
        with open(REFS) as f:
            return json.load(f)
    return {}


def write_refs(refs):
    with open(REFS, 'w') as f:
        json.dump(refs, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'teachers':
        make_teachers()
    elif cmd == 'reference':
        reference(sys.argv[2:] or list(TEACHERS))
    else:
        sys.exit(__doc__)
