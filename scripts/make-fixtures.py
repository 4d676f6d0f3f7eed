"""Fixtures from real exporters (PyTorch 1.13, NumPy): run with Debian's /usr/bin/python3.

Writes test/fixtures/formats/:
  data.npz, data-npy/ : a small 8x8 RGB, 4-class dataset (NHWC uint8 images) in NumPy's own formats
  cnn.onnx             : a small NCHW CNN trained on it, exported by torch.onnx.export
  cnn_nhwc.onnx        : the same weights taking NHWC images, with an NHWC target tensor
  cnn.torchscript.pt   : the same network as TorchScript (torch.jit.trace)
  cnn_state.pth        : its state dict, for the --model-class export path (class in tiny_cnn.py)
  torch_ref.json       : reference inputs' indices, outputs and accuracy computed by PyTorch
Everything is seeded so reruns give the same files up to PyTorch's nondeterminism.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'formats')
sys.path.insert(0, OUT)
from tiny_cnn import TinyCnn  # noqa: E402


class NhwcCnn(torch.nn.Module):
    def __init__(self, base):
        super().__init__()
        self.base = base

    def forward(self, x):
        f = torch.relu(self.base.features(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
        return self.base.fc(f.mean(dim=(1, 2)))


def make_data(rng, n):
    """Class k puts a bright 4x4 blob in quadrant k and tints channel k % 3, over noise."""
    y = rng.integers(0, 4, size=n)
    x = rng.integers(0, 200, size=(n, 8, 8, 3)).astype(np.float64)
    for i, k in enumerate(y):
        r, c = (k // 2) * 4, (k % 2) * 4
        x[i, r:r + 4, c:c + 4, :] += 40
        x[i, :, :, k % 3] += 10
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(rng, 96)
    x_test, y_test = make_data(rng, 48)
    np.savez_compressed(os.path.join(OUT, 'data.npz'), x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    npy_dir = os.path.join(OUT, 'data-npy')
    os.makedirs(npy_dir, exist_ok=True)
    for name, arr in [('x_train', x_train), ('y_train', y_train), ('x_test', x_test), ('y_test', y_test)]:
        np.save(os.path.join(npy_dir, name + '.npy'), arr)

    def nchw(x):
        return torch.from_numpy(x.astype(np.float32) / 255).permute(0, 3, 1, 2).contiguous()

    model = TinyCnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = nchw(x_train), torch.from_numpy(y_train.astype(np.int64))
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()

    dummy = torch.zeros(1, 3, 8, 8)
    torch.onnx.export(model, dummy, os.path.join(OUT, 'cnn.onnx'), input_names=['image'], output_names=['logits'],
                      dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
    # The same network taking NHWC images, as Keras/TF exports to ONNX do: Transposes at the input
    # and after the convolutions, so the target tensor is NHWC inside the ONNX graph.
    nhwc = NhwcCnn(model).eval()
    torch.onnx.export(nhwc, torch.zeros(1, 8, 8, 3), os.path.join(OUT, 'cnn_nhwc.onnx'), input_names=['image'],
                      output_names=['logits'], dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
    traced = torch.jit.trace(model, dummy)
    traced.save(os.path.join(OUT, 'cnn.torchscript.pt'))
    torch.save(model.state_dict(), os.path.join(OUT, 'cnn_state.pth'))

    with torch.no_grad():
        xs = nchw(x_test)
        logits = model(xs)
        acc = float((logits.argmax(1).numpy() == y_test).mean())
        feature = model.features(xs)
    ref = {
        'generatedBy': f'torch {torch.__version__}, numpy {np.__version__}',
        'layout': 'NCHW',
        'inputShape': [3, 8, 8],
        'numClasses': 4,
        'testAccuracy': acc,
        'testLogits': [[round(float(v), 7) for v in row] for row in logits[:8].numpy()],
        'featureShapeNCHW': list(feature.shape[1:]),
        'testFeatureSum': [round(float(v), 6) for v in feature[:8].sum(dim=(1, 2, 3)).numpy()],
    }
    with open(os.path.join(OUT, 'torch_ref.json'), 'w') as f:
        json.dump(ref, f, indent=1)
    print(f'test accuracy {acc:.3f}; wrote {OUT}')


if __name__ == '__main__':
    main()
