"""ONNX teachers for the linear-teacher and k-ReLU self-tests (test/unit/analysis/loaderTeachers.test.ts),
exported by PyTorch 1.13 (run with Debian's /usr/bin/python3):

  /usr/bin/python3 scripts/make-linear-fixtures.py

Writes test/fixtures/formats/teachers/:
  linear-<convention>.onnx   28×28×1 → three 3×3 convs with 8 channels and no nonlinearity; the
                             target is the third conv's output, '/feature/Conv_output_0'
  onerelu-<convention>.onnx  12×12×1 → conv 3×3 (6 channels) + ReLU → conv 3×3 stride 2 (4
                             channels) as the target, '/feature/Conv_output_0'
Conventions: tf-same (TensorFlow's 'same': a stride-2 conv on an even map pads (0, 1), written as
an explicit Pad), torch (padding=1 everywhere), valid (no padding), pool (padding=1 convs with 2×2
average pooling between them, strides 1). Each has a flatten + linear head to 3 classes.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'formats', 'teachers')


class Trunk(nn.Module):
    def __init__(self, convention, relu_after_first, channels, n_convs, in_hw):
        super().__init__()
        self.convention = convention
        self.relu_after_first = relu_after_first
        pad = 1 if convention in ('torch', 'pool') else 0
        chans = [1] + channels
        self.convs = nn.ModuleList()
        for i in range(n_convs):
            stride = 2 if (i > 0 and convention != 'pool') else 1
            first_same = convention == 'tf-same' and stride == 1
            conv = nn.Conv2d(chans[i], chans[i + 1], 3, stride=stride, padding=1 if first_same else pad)
            nn.init.normal_(conv.bias, 0.0, 0.1)
            if i == 0 and relu_after_first:
                # The ReLU switches at the mean image (pixels average 0.5): on for about half the
                # images, so it is far from linear.
                with torch.no_grad():
                    conv.bias.copy_(-0.5 * conv.weight.sum((1, 2, 3)))
            self.convs.append(conv)
        # The target is the last conv, named 'feature' in the exported graph.
        self.feature = self.convs[-1]
        self.convs = self.convs[:-1]
        with torch.no_grad():
            n = self.forward(torch.zeros(1, 1, *in_hw)).numel()
        self.head = nn.Linear(n, 3)

    def trunk(self, x):
        convs = list(self.convs) + [self.feature]
        for i, conv in enumerate(convs):
            if self.convention == 'tf-same' and conv.stride[0] == 2:
                x = F.pad(x, (0, 1, 0, 1))
            if self.convention == 'pool' and i > 0:
                x = F.avg_pool2d(x, 2)
            x = conv(x)
            if i == 0 and self.relu_after_first:
                x = F.relu(x)
        return x

    def forward(self, x):
        return self.trunk(x)


class Teacher(nn.Module):
    def __init__(self, trunk):
        super().__init__()
        self.t = trunk
        self.head = trunk.head

    def forward(self, x):
        return torch.softmax(self.head(torch.flatten(self.t.trunk(x), 1)), dim=1)


def export(model, path, hw):
    torch.onnx.export(model, torch.zeros(1, 1, hw, hw), path, input_names=['image'], output_names=['probs'],
                      opset_version=13, dynamic_axes={'image': {0: 'batch'}, 'probs': {0: 'batch'}})


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, convention in enumerate(['tf-same', 'torch', 'valid', 'pool']):
        torch.manual_seed(10 + i)
        t = Trunk(convention, False, [8, 8, 8], 3, (28, 28))
        export(Teacher(t).eval(), os.path.join(OUT, f'linear-{convention}.onnx'), 28)
        torch.manual_seed(20 + i)
        t = Trunk(convention, True, [6, 4], 2, (12, 12))
        export(Teacher(t).eval(), os.path.join(OUT, f'onerelu-{convention}.onnx'), 12)
    print('wrote', sorted(os.listdir(OUT)))


if __name__ == '__main__':
    main()
