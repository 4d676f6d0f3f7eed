"""Exports a PyTorch checkpoint to ONNX for the feature-complexity engine.

Run by the engine with the user's own Python (the interpreter that has their torch and model
code); the engine never unpickles anything itself.

  python export_torch.py --checkpoint CKPT --out OUT.onnx --input-shape C,H,W
                         [--model-class module:Class] [--module-path DIR] [--opset 13]

- TorchScript files (torch.jit.save) load without the model's code.
- State dicts (torch.save(model.state_dict())) and full pickled models need the model's class:
  `--model-class pkg.module:Class` (imported from --module-path, the checkpoint's folder or
  the working directory), constructed with no arguments. State dicts load with
  weights_only=True; a full pickled model runs the user's own pickle in the user's Python.
Exit codes: 0 done, 2 bad input (one line on stderr), 3 needs --model-class, 4 no torch.
"""
import argparse
import importlib
import os
import sys


def fail(code, msg):
    sys.stderr.write(f'export_torch: {msg}\n')
    sys.exit(code)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--input-shape', required=True, help='C,H,W of one image')
    p.add_argument('--model-class', default=None)
    p.add_argument('--module-path', default=None)
    p.add_argument('--opset', type=int, default=13)
    a = p.parse_args()
    try:
        import torch
    except ImportError:
        fail(4, f'PyTorch is not installed for {sys.executable}; pick the Python environment that has torch')
    try:
        shape = [int(s) for s in a.input_shape.split(',')]
    except ValueError:
        fail(2, f'bad --input-shape {a.input_shape!r}')
    if len(shape) != 3 or min(shape) < 1:
        fail(2, f'--input-shape needs C,H,W, got {a.input_shape!r}')

    model = None
    jit_error = None
    try:
        model = torch.jit.load(a.checkpoint, map_location='cpu')
    except Exception as e:  # not TorchScript: fall through to the class path
        jit_error = e
    if model is None:
        if not a.model_class:
            fail(3, f'{a.checkpoint} is not a TorchScript file ({str(jit_error).splitlines()[0] if jit_error else ""}); '
                    'a state dict or pickled model needs the model class: --model-class module:Class')
        for d in [a.module_path, os.path.dirname(os.path.abspath(a.checkpoint)), os.getcwd()]:
            if d and d not in sys.path:
                sys.path.insert(0, d)
        mod_name, _, cls_name = a.model_class.partition(':')
        if not cls_name:
            fail(2, f'--model-class needs module:Class, got {a.model_class!r}')
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name)
        except Exception as e:
            fail(2, f'cannot import {a.model_class}: {e}')
        try:
            obj = torch.load(a.checkpoint, map_location='cpu', weights_only=True)
        except Exception:
            try:
                obj = torch.load(a.checkpoint, map_location='cpu')
            except Exception as e:
                fail(2, f'{a.checkpoint}: torch.load failed: {str(e).splitlines()[0]}')
        if isinstance(obj, torch.nn.Module):
            model = obj
        else:
            if isinstance(obj, dict):
                for key in ('state_dict', 'model_state_dict', 'model'):
                    if key in obj and isinstance(obj[key], dict):
                        obj = obj[key]
                        break
            if not isinstance(obj, dict):
                fail(2, f'{a.checkpoint}: holds a {type(obj).__name__}, not a state dict or a model')
            try:
                model = cls()
                model.load_state_dict(obj)
            except Exception as e:
                fail(2, f'{a.checkpoint}: the state dict does not fit {a.model_class}: {str(e).splitlines()[0]}')
    model.eval()
    dummy = torch.zeros(1, *shape)
    tmp = a.out + f'.{os.getpid()}.tmp'
    try:
        with torch.no_grad():
            torch.onnx.export(model, dummy, tmp, input_names=['image'], output_names=['logits'],
                              dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=a.opset)
    except Exception as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(2, f'torch.onnx.export failed on a [1, {a.input_shape}] input: {str(e).splitlines()[0]}')
    os.replace(tmp, a.out)


if __name__ == '__main__':
    main()
