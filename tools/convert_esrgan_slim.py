"""Convert the x4 model of the npm package ``@upscalerjs/esrgan-slim`` 1.0.0 (MIT, Kevin Scott;
an RDN trained on DIV2K, a TensorFlow.js layers model) into the files the pack ships in
``models/esrgan_slim/``:

- ``x4_graph.json``: the Keras functional graph, one entry per layer (name, type, the options
  the runner needs, input layer names), read by :class:`models.upscalers.KerasGraph`;
- ``x4.safetensors``: the weights in PyTorch layout (Conv2D kernels ``[out, in, kh, kw]``);
- ``LICENSE`` (the package's MIT licence) and ``README.md`` (provenance).

Usage (once; the outputs are committed):
    npm pack @upscalerjs/esrgan-slim@1.0.0 && tar xzf upscalerjs-esrgan-slim-1.0.0.tgz
    python tools/convert_esrgan_slim.py package
"""
import json
import pathlib
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "esrgan_slim"
KEPT = {"Conv2D": ("filters", "kernel_size", "padding", "activation", "strides"),
        "Activation": ("activation",), "UpSampling2D": ("size", "interpolation"),
        "Concatenate": ("axis",), "Add": (), "InputLayer": ()}


def convert(package: pathlib.Path) -> None:
    spec = json.loads((package / "models/x4/model.json").read_text())
    layers = []
    for layer in spec["modelTopology"]["model_config"]["config"]["layers"]:
        kind = layer["class_name"]
        if kind not in KEPT:
            raise SystemExit(f"unsupported layer {kind} ({layer['name']})")
        inputs = [n[0] for node in layer.get("inbound_nodes", []) for n in node]
        config = {k: layer["config"][k] for k in KEPT[kind] if k in layer["config"]}
        layers.append({"name": layer["name"], "type": kind, "config": config, "inputs": inputs})
    data = (package / "models/x4" / spec["weightsManifest"][0]["paths"][0]).read_bytes()
    tensors, offset = {}, 0
    for w in spec["weightsManifest"][0]["weights"]:
        if w["dtype"] != "float32":
            raise SystemExit(f"unsupported weight dtype {w['dtype']}")
        count = int(np.prod(w["shape"]))
        value = np.frombuffer(data, "<f4", count, offset).reshape(w["shape"])
        offset += 4 * count
        if value.ndim == 4:                     # [kh, kw, in, out] -> [out, in, kh, kw]
            value = value.transpose(3, 2, 0, 1)
        tensors[w["name"].replace("/", ".")] = torch.from_numpy(value.copy())
    if offset != len(data):
        raise SystemExit(f"read {offset} of {len(data)} weight bytes")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "x4_graph.json").write_text(json.dumps(
        {"source": "@upscalerjs/esrgan-slim 1.0.0 models/x4/model.json", "scale": 4,
         "input_range": [0, 255], "output_range": [0, 255], "layers": layers}, indent=1) + "\n")
    save_file(tensors, str(OUT / "x4.safetensors"))
    shutil.copy(package / "LICENSE", OUT / "LICENSE")
    print(f"{len(layers)} layers, {len(tensors)} tensors -> {OUT}")


if __name__ == "__main__":
    convert(pathlib.Path(sys.argv[1]))
