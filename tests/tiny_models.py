"""Tiny ONNX models with the signatures of the real downloadable models (SCRFD det_10g,
ArcFace w600k_r50, inswapper_128, FaceFusion's face restorers, XSeg and BiSeNet): the tests
exercise the loaders, pre- and post-processing without any download."""
import numpy as np
from conftest import save_onnx
from onnx import TensorProto, helper, numpy_helper

SWAP_SIZE = 128

SCRFD_SIZE = 64
STRIDES = (8, 16, 32)


def tiny_scrfd(path, level: int, anchor: int, distances, kps_offsets):
    """An ONNX model with det_10g's signature (one [1,3,H,W] input; scores, box distances and
    keypoints for strides 8/16/32) whose outputs encode one face at a chosen anchor."""
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, SCRFD_SIZE, SCRFD_SIZE])
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outputs = []
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for lvl, stride in enumerate(STRIDES):
            n = (SCRFD_SIZE // stride) ** 2 * 2
            value = np.full((n, width), 0.01 if kind == "score" else 1.0, np.float32)
            if lvl == level:
                value[anchor] = {"score": [0.9], "bbox": distances, "kps": kps_offsets}[kind]
            name = f"{kind}_{stride}"
            inits.append(numpy_helper.from_array(value, name + "_c"))
            nodes.append(helper.make_node("Add", [name + "_c", "nothing"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, width]))
    graph = helper.make_graph(nodes, "tiny_scrfd", [inp], outputs, inits)
    save_onnx(graph, path)


def tiny_arcface(path):
    """[1,3,112,112] -> mean over H, W -> [1,3] @ W[3,512] + 1 -> [1,512]: ArcFace's signature
    (the bias makes the output depend on the input's scale and offset, not only direction)."""
    weights = np.random.default_rng(0).normal(size=(3, 512)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input.1"], ["pooled"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["pooled", "W"], ["projected"]),
         helper.make_node("Add", ["projected", "bias"], ["683"])],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
        [numpy_helper.from_array(weights, "W"),
         numpy_helper.from_array(np.ones(512, np.float32), "bias")])
    save_onnx(graph, str(path))
    return weights


def tiny_inswapper(path, emap):
    """An ONNX model with inswapper_128's signature that outputs
    ``0.5 * target + latent[:3] (per channel) + ramp(y, x)``: the latent it received shows in the
    colour offset, the position ramp shows how pixel-boost sub-images were woven."""
    ramp = (np.add.outer(np.arange(SWAP_SIZE), 3 * np.arange(SWAP_SIZE)) / (16 * SWAP_SIZE)).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["target", "half"], ["scaled"]),
        helper.make_node("Slice", ["source", "start", "stop", "axis"], ["rgb"]),
        helper.make_node("Reshape", ["rgb", "shape"], ["offset"]),
        helper.make_node("Add", ["scaled", "offset"], ["shifted"]),
        helper.make_node("Add", ["shifted", "ramp"], ["output"]),
    ]
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array([0], np.int64), "start"),
             numpy_helper.from_array(np.array([3], np.int64), "stop"),
             numpy_helper.from_array(np.array([1], np.int64), "axis"),
             numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(ramp[None, None], "ramp"),
             numpy_helper.from_array(emap, "emap")]  # the last initializer, as in inswapper
    graph = helper.make_graph(
        nodes, "tiny_inswapper",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, SWAP_SIZE, SWAP_SIZE]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SWAP_SIZE, SWAP_SIZE])], inits)
    save_onnx(graph, str(path))
    return ramp


def tiny_face_restorer(path, size: int = 512, weight_input: bool = False):
    """A model with the signature of FaceFusion's GPEN / GFPGAN (``input`` [1,3,S,S] in -1..1 ->
    ``output`` [1,3,S,S]) or, with ``weight_input``, CodeFormer's (plus ``weight`` float64 [1]):
    the output is ``0.5 * input`` (GPEN/GFPGAN) or ``weight * input`` (CodeFormer), so a test
    sees the normalisation round trip and the fidelity that reached the model."""
    nodes, inputs, inits = [], [helper.make_tensor_value_info(
        "input", TensorProto.FLOAT, [1, 3, size, size])], []
    if weight_input:
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        nodes.append(helper.make_node("Cast", ["weight"], ["factor"], to=TensorProto.FLOAT))
    else:
        inits.append(numpy_helper.from_array(np.array([0.5], np.float32), "factor"))
    nodes.append(helper.make_node("Mul", ["input", "factor"], ["output"]))
    graph = helper.make_graph(nodes, "tiny_face_restorer", inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                                             [1, 3, size, size])], inits)
    save_onnx(graph, str(path))


def _key_distance(nodes, inits, rgb, key, axis):
    """Nodes computing ``key_score`` = clip(1.5 - 20 * sum_c |rgb - key|, 0, 1) along channel
    ``axis`` of the tensor named ``rgb``: 1 on pixels of the key colour, 0 a few grey levels
    of distance (about 0.075 summed over the channels) away."""
    shape = [1, 1, 1, 1]
    shape[axis] = 3
    inits += [numpy_helper.from_array(np.array(key, np.float32).reshape(shape), "key"),
              numpy_helper.from_array(np.array([axis], np.int64), "axis"),
              numpy_helper.from_array(np.array(-20.0, np.float32), "gain"),
              numpy_helper.from_array(np.array(1.5, np.float32), "bias"),
              numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
              numpy_helper.from_array(np.array(1.0, np.float32), "hi")]
    nodes += [helper.make_node("Sub", [rgb, "key"], ["diff"]),
              helper.make_node("Abs", ["diff"], ["absdiff"]),
              helper.make_node("ReduceSum", ["absdiff", "axis"], ["dist"], keepdims=1),
              helper.make_node("Mul", ["dist", "gain"], ["scaled"]),
              helper.make_node("Add", ["scaled", "bias"], ["raw"]),
              helper.make_node("Clip", ["raw", "lo", "hi"], ["key_score"])]


def tiny_xseg(path, key_rgb, size: int = 256):
    """A model with the signature of FaceFusion's XSeg (``input`` NHWC [1,S,S,3] BGR 0..1 ->
    [1,S,S,1]) that says the face is visible (1) everywhere except on pixels of the colour
    ``key_rgb`` (RGB 0..1): those are an occluder (0)."""
    nodes, inits = [], [numpy_helper.from_array(np.array(1.0, np.float32), "one")]
    _key_distance(nodes, inits, "input", list(key_rgb)[::-1], 3)   # the model sees BGR
    nodes.append(helper.make_node("Sub", ["one", "key_score"], ["output"]))
    graph = helper.make_graph(
        nodes, "tiny_xseg",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, size, size, 1])], inits)
    save_onnx(graph, str(path))


def tiny_bisenet(path, key_rgb=None, size: int = 512):
    """A model with the signature of FaceFusion's BiSeNet face parser (``input`` NCHW
    [1,3,S,S] ImageNet-normalised RGB -> [1,19,S,S] class scores) that calls every pixel skin
    (class 1), except pixels of the colour ``key_rgb`` (when given): hair (class 17)."""
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    base = np.zeros((1, 19, 1, 1), np.float32)
    base[0, 1] = 1.0
    hair = np.zeros((1, 19, 1, 1), np.float32)
    hair[0, 17] = 2.0 if key_rgb is not None else 0.0
    inits = [numpy_helper.from_array(mean, "mean"), numpy_helper.from_array(std, "std"),
             numpy_helper.from_array(base, "base"), numpy_helper.from_array(hair, "hair")]
    nodes = [helper.make_node("Mul", ["input", "std"], ["scaled_in"]),
             helper.make_node("Add", ["scaled_in", "mean"], ["rgb"])]
    _key_distance(nodes, inits, "rgb", list(key_rgb if key_rgb is not None else (0, 0, 0)), 1)
    nodes += [helper.make_node("Mul", ["key_score", "hair"], ["hair_scores"]),
              helper.make_node("Add", ["hair_scores", "base"], ["output"])]
    graph = helper.make_graph(
        nodes, "tiny_bisenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 19, size, size])],
        inits)
    save_onnx(graph, str(path))
