#!/usr/bin/env python3
"""Convert MediaPipe's face .tflite models to ONNX (dev-time tool, run once).

The Face Pipeline nodes run these networks with onnxruntime only, so the
.onnx files produced here are committed under ``models/mediapipe/``.  This
script is *not* needed at run time; it needs ``tflite`` (flatbuffer parser),
``ai-edge-litert`` (TFLite interpreter, used to read constant tensors and as
the reference for validation), ``onnx``, ``onnxruntime`` and ``numpy``.

How it works
------------
* The .tflite graph is walked op by op with the ``tflite`` flatbuffer package.
* Every constant tensor is read *after* DEQUANTIZE / DENSIFY by running the
  model once in the LiteRT interpreter with ``experimental_preserve_all_tensors``
  (and without the XNNPACK delegate, which would otherwise swallow the
  dequantized weights).  So we never decode fp16 or sparse formats ourselves.
* ONNX is emitted in NCHW internally: the NHWC input is transposed once, and
  4-D tensors are transposed back to NHWC only where TFLite semantics need
  that layout (RESHAPE, graph outputs).  Layout changes are inserted lazily.
* The graph keeps the TFLite input/output names, NHWC input layout and output
  shapes, but the batch dimension is dynamic (``batch``).  The two face
  detectors also take any input height and width (multiples of 32 keep TF's
  SAME padding as at the native size; outputs ``[batch, anchors, ...]``, one
  stride-4/8/16 grid per layer as at the native size): run fully
  convolutionally over a whole frame, they find small faces without tiling.
* Supported ops (all these models use): CONV_2D, DEPTHWISE_CONV_2D,
  MAX_POOL_2D, AVERAGE_POOL_2D, ADD, MUL, RELU, PRELU, HARD_SWISH, LOGISTIC, PAD,
  RESIZE_BILINEAR, DEPTH_TO_SPACE, RESHAPE, CONCATENATION (+ DEQUANTIZE/DENSIFY
  folded into constants) and MediaPipe's custom Convolution2DTransposeBias (a
  transposed convolution plus bias -> ONNX ConvTranspose); fused activations NONE
  and RELU.  Anything else raises NotImplementedError.
* Models with a MediaPipe custom op (selfie segmentation) cannot run in LiteRT:
  their weights are dense fp32 / fp16 buffers read from the flatbuffer directly.

Usage::

    python tools/convert_mediapipe.py --src <unzipped wheel>/mediapipe/modules \\
        --out models/mediapipe --check --image <testdata>/faces/nasa_astronaut/1.png
"""
from __future__ import annotations

import argparse
import hashlib
import warnings
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # opset 17 + IR 8: loadable by onnxruntime >= 1.13, not only the newest

# (source .tflite relative to the modules dir, output .onnx name, input range, any input size)
MODELS = [
    ("face_detection/face_detection_short_range.tflite", "face_detection_short_range.onnx", (-1.0, 1.0), True),
    ("face_detection/face_detection_full_range_sparse.tflite", "face_detection_full_range.onnx", (-1.0, 1.0), True),
    ("face_landmark/face_landmark.tflite", "face_landmark.onnx", (0.0, 1.0), False),
    ("iris_landmark/iris_landmark.tflite", "iris_landmark.onnx", (0.0, 1.0), False),
    ("selfie_segmentation/selfie_segmentation.tflite", "selfie_segmentation.onnx", (0.0, 1.0), False),
]
CUSTOM_OPS = {"Convolution2DTransposeBias"}
"""MediaPipe custom ops converted here; LiteRT cannot run them, so models that use them take
their (dense fp32 / fp16) weights straight from the flatbuffer and are validated against the
real MediaPipe (``tools/mediapipe_reference.py --selfie``) instead of LiteRT."""

OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_AXIS_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
NCHW, TF = "nchw", "tf"  # tensor layouts: ONNX-internal NCHW, or TFLite's own


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_interpreter(path: Path, preserve: bool = False):
    """LiteRT interpreter; with ``preserve`` every tensor stays readable."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {}
    if preserve:
        kwargs = dict(experimental_preserve_all_tensors=True,
                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with warnings.catch_warnings():  # "preserve_all_tensors is for debugging"
        warnings.simplefilter("ignore", UserWarning)
        interp = Interpreter(model_path=str(path), **kwargs)
    interp.allocate_tensors()
    return interp


def same_pads(in_size: int, out_size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow SAME padding (begin, end) along one spatial axis."""
    total = max((out_size - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


class TFLiteToONNX:
    """Converts the single subgraph of one .tflite model into an ONNX model."""

    def __init__(self, tflite_path: Path, any_size: bool = False):
        self.path = Path(tflite_path)
        self.any_size = any_size  # height/width of the input and the anchor count dynamic
        self.model = tflite.Model.GetRootAsModel(self.path.read_bytes(), 0)
        self.graph = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[int, dict[str, str]] = {}  # tensor index -> {layout: onnx name}
        self.constants = self._read_constants()

    # ----------------------------------------------------------- graph access
    def _op_name(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        name = OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        return "CUSTOM:" + code.CustomCode().decode() if name == "CUSTOM" else name

    def _ops(self):
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            yield self._op_name(op), op

    def shape(self, idx: int) -> list[int]:
        return self.graph.Tensors(idx).ShapeAsNumpy().tolist()

    def tensor_name(self, idx: int) -> str:
        return self.graph.Tensors(idx).Name().decode()

    def _read_constants(self) -> dict[int, np.ndarray]:
        """Value of every constant operand of a real op (after DEQUANTIZE/DENSIFY).

        Constants are the operands no (non weight-decoding) op produces and
        that are not the graph input; floats are returned as float32.
        """
        produced, operands = {self.graph.Inputs(0)}, set()
        for name, op in self._ops():
            if name not in ("DEQUANTIZE", "DENSIFY"):
                produced.update(int(j) for j in op.OutputsAsNumpy())
                operands.update(int(j) for j in op.InputsAsNumpy() if j >= 0)
        if self.has_custom_ops():
            get = self._buffer_constants()
        else:
            interp = make_interpreter(self.path, preserve=True)
            detail = interp.get_input_details()[0]
            interp.set_tensor(detail["index"], np.zeros(detail["shape"], np.float32))
            interp.invoke()
            get = interp.get_tensor
        consts = {i: np.asarray(get(i)) for i in sorted(operands - produced)}
        return {i: (a.astype(np.float32) if a.dtype.kind == "f" else a) for i, a in consts.items()}

    def has_custom_ops(self) -> bool:
        return any(name.startswith("CUSTOM:") for name, _ in self._ops())

    def _buffer_constants(self):
        """Tensor reader from the flatbuffer's dense buffers (fp32, fp16, int32), with each
        DEQUANTIZE output resolved to its decoded input; sparse (DENSIFY) is refused."""
        dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
                  tflite.TensorType.INT32: np.int32}
        source = {}
        for name, op in self._ops():
            if name == "DENSIFY":
                raise NotImplementedError(f"{self.path.name}: sparse weights need LiteRT")
            if name == "DEQUANTIZE":
                source[int(op.OutputsAsNumpy()[0])] = int(op.InputsAsNumpy()[0])

        def get(idx: int) -> np.ndarray:
            tensor = self.graph.Tensors(source.get(idx, idx))
            data = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
            if tensor.Type() not in dtypes or not isinstance(data, np.ndarray):
                raise NotImplementedError(f"{self.path.name}: tensor {idx} has no dense buffer")
            return np.frombuffer(data.tobytes(), dtypes[tensor.Type()]).reshape(tensor.ShapeAsNumpy())
        return get

    @staticmethod
    def options(op, cls):
        """Decode an op's builtin options table into a ``tflite.<cls>``."""
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    # -------------------------------------------------------- ONNX emission
    def node(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=f"{op_type}_{len(self.nodes)}", **attrs))
        return output

    def initializer(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def value(self, idx: int, layout: str) -> str:
        """ONNX name of tensor ``idx`` in ``layout``, transposing on demand."""
        known = self.values[idx]
        if layout in known:
            return known[layout]
        if layout == NCHW:
            known[NCHW] = self.node("Transpose", [known[TF]], f"t{idx}_nchw", perm=NHWC_TO_NCHW)
        else:
            name = self._tf_name(idx)
            known[TF] = self.node("Transpose", [known[NCHW]], name, perm=NCHW_TO_NHWC)
        return known[layout]

    def _tf_name(self, idx: int) -> str:
        outputs = [self.graph.Outputs(i) for i in range(self.graph.OutputsLength())]
        return self.tensor_name(idx) if idx in outputs else f"t{idx}"

    def activation_input(self, idx: int) -> str:
        """A 4-D activation in NCHW (or a constant broadcast to NCHW)."""
        if idx in self.constants:
            return self.initializer(f"t{idx}_c", self.nchw_constant(self.constants[idx]))
        return self.value(idx, NCHW)

    @staticmethod
    def nchw_constant(array: np.ndarray) -> np.ndarray:
        """Re-lay a constant that broadcasts against NHWC so it broadcasts against NCHW."""
        array = array.reshape((1,) * (4 - array.ndim) + array.shape)
        return np.ascontiguousarray(array.transpose(NHWC_TO_NCHW))

    def emit(self, op_type: str, inputs: list[str], out_idx: int, fused: int = 0, layout: str = NCHW, **attrs):
        """Emit one node (plus its fused activation) producing tensor ``out_idx``."""
        name = f"t{out_idx}_nchw" if layout == NCHW else self._tf_name(out_idx)
        if fused == tflite.ActivationFunctionType.NONE:
            self.node(op_type, inputs, name, **attrs)
        elif fused == tflite.ActivationFunctionType.RELU:
            self.node("Relu", [self.node(op_type, inputs, name + "_pre", **attrs)], name)
        else:  # RELU6 / RELU_N1_TO_1 / TANH do not occur in these models
            raise NotImplementedError(f"fused activation {fused}")
        self.values[out_idx] = {layout: name}

    # --------------------------------------------------------- op families
    def conv(self, op, depthwise: bool):
        """CONV_2D (OHWI weights) and DEPTHWISE_CONV_2D ([1,KH,KW,C*m] weights)."""
        x, w, b = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        cls = tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions
        opts = self.options(op, cls)
        weight = self.constants[w]
        in_ch = self.shape(x)[3]
        if depthwise:
            weight, group = weight.transpose(3, 0, 1, 2), in_ch  # -> [C*m, 1, KH, KW]
        else:
            weight, group = weight.transpose(0, 3, 1, 2), in_ch // weight.shape[3]  # -> OIHW
        strides = [opts.StrideH(), opts.StrideW()]
        dilations = [opts.DilationHFactor(), opts.DilationWFactor()]
        pads = self.spatial_pads(opts.Padding(), x, out, weight.shape[2:], strides, dilations)
        inputs = [self.activation_input(x), self.initializer(f"t{w}_w", np.ascontiguousarray(weight))]
        if b >= 0:
            inputs.append(self.initializer(f"t{b}_b", self.constants[b]))
        self.emit("Conv", inputs, out, opts.FusedActivationFunction(), kernel_shape=list(weight.shape[2:]),
                  strides=strides, dilations=dilations, pads=pads, group=group)

    def spatial_pads(self, padding, x, out, kernel, strides, dilations=(1, 1)) -> list[int]:
        """ONNX [h0, w0, h1, w1] pads for TFLite SAME/VALID padding."""
        if padding == tflite.Padding.VALID:
            return [0, 0, 0, 0]
        (_, ih, iw, _), (_, oh, ow, _) = self.shape(x), self.shape(out)
        ph = same_pads(ih, oh, kernel[0], strides[0], dilations[0])
        pw = same_pads(iw, ow, kernel[1], strides[1], dilations[1])
        return [ph[0], pw[0], ph[1], pw[1]]

    def max_pool(self, op):
        """MAX_POOL_2D (ONNX MaxPool ignores padded cells, like TF)."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        opts = self.options(op, tflite.Pool2DOptions)
        kernel = [opts.FilterHeight(), opts.FilterWidth()]
        strides = [opts.StrideH(), opts.StrideW()]
        self.emit("MaxPool", [self.value(x, NCHW)], out, opts.FusedActivationFunction(), kernel_shape=kernel,
                  strides=strides, pads=self.spatial_pads(opts.Padding(), x, out, kernel, strides))

    def add(self, op):
        """ADD: activations in NCHW, constants re-laid to broadcast in NCHW."""
        a, b = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        fused = self.options(op, tflite.AddOptions).FusedActivationFunction() if op.BuiltinOptions() else 0
        self.emit("Add", [self.activation_input(a), self.activation_input(b)], out, fused)

    def mul(self, op):
        """MUL: like ADD (broadcasting constants re-laid to NCHW)."""
        a, b = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        fused = self.options(op, tflite.MulOptions).FusedActivationFunction() if op.BuiltinOptions() else 0
        self.emit("Mul", [self.activation_input(a), self.activation_input(b)], out, fused)

    def unary(self, op, op_type: str):
        """One-input elementwise ops (HARD_SWISH -> HardSwish, LOGISTIC -> Sigmoid)."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        self.emit(op_type, [self.value(x, NCHW)], out)

    def average_pool(self, op):
        """AVERAGE_POOL_2D: TF averages over the valid cells only (count_include_pad=0)."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        opts = self.options(op, tflite.Pool2DOptions)
        kernel = [opts.FilterHeight(), opts.FilterWidth()]
        strides = [opts.StrideH(), opts.StrideW()]
        self.emit("AveragePool", [self.value(x, NCHW)], out, opts.FusedActivationFunction(),
                  kernel_shape=kernel, strides=strides, count_include_pad=0,
                  pads=self.spatial_pads(opts.Padding(), x, out, kernel, strides))

    def transpose_conv_bias(self, op):
        """MediaPipe's Convolution2DTransposeBias: inputs (x, OHWI weights, bias); its custom
        options are TfLiteTransposeConvParams {padding, stride_width, stride_height} (int32)."""
        x, w, b = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes()[:12], np.int32)
        weight = self.constants[w].transpose(3, 0, 1, 2)          # OHWI -> [I, O, KH, KW]
        kernel = list(weight.shape[2:])
        (_, ih, iw, _), (_, oh, ow, _) = self.shape(x), self.shape(out)
        pads = [0, 0, 0, 0]
        if padding == tflite.Padding.SAME:
            th = max((ih - 1) * stride_h + kernel[0] - oh, 0)
            tw = max((iw - 1) * stride_w + kernel[1] - ow, 0)
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        inputs = [self.value(x, NCHW), self.initializer(f"t{w}_w", np.ascontiguousarray(weight)),
                  self.initializer(f"t{b}_b", self.constants[b])]
        self.emit("ConvTranspose", inputs, out, kernel_shape=kernel,
                  strides=[int(stride_h), int(stride_w)], pads=pads)

    def relu(self, op):
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        self.emit("Relu", [self.value(x, NCHW)], out)

    def channel_scale(self, x: str, scale: np.ndarray, output: str) -> str:
        """``x * scale`` per channel (``scale`` [C]) as a 1x1 depthwise convolution: ONNX
        Runtime's blocked (NCHWc) layout runs convolutions, so the tensor is not reordered
        back to NCHW as a broadcasting Mul would force."""
        channels = scale.size
        weight = self.initializer(f"{output}_w", scale.reshape(channels, 1, 1, 1).astype(np.float32))
        return self.node("Conv", [x, weight], output, kernel_shape=[1, 1], group=channels)

    def prelu(self, op):
        """PRELU as ``alpha * x + relu((1 - alpha) * x)``: the same function where every
        ``alpha <= 1`` (a product with a non-negative factor commutes with relu exactly), built
        from two per-channel 1x1 depthwise convolutions, the first with its Relu fused and the
        second with the Add fused as its sum input: ONNX Runtime runs both in its fast blocked
        (NCHWc) layout, two passes over the tensor.  A PRELU with some ``alpha > 1`` (a few
        channels in 16 of the 76 PRELUs of the mesh and iris networks) cannot be written so
        (it is not convex) and becomes ``alpha * x + (1 - alpha) * relu(x)``, three passes.
        ONNX Runtime's own broadcasting PRelu kernel ran ~10x slower (it took ~60% of the mesh
        and iris time); an elementwise Min/Mul/Add form cost a layout reorder around every
        activation.  Outputs are unchanged up to float32 rounding (relative difference ~2e-7)."""
        x, alpha = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        source = self.value(x, NCHW)
        alpha = self.constants[alpha].reshape(-1).astype(np.float32)
        if (alpha <= 1).all():
            scaled = self.channel_scale(source, 1 - alpha, f"t{out}_scaled")
            positive = self.node("Relu", [scaled], f"t{out}_scaled_relu")
        else:
            positive = self.channel_scale(self.node("Relu", [source], f"t{out}_relu"), 1 - alpha,
                                          f"t{out}_relu_scaled")
        linear = self.channel_scale(source, alpha, f"t{out}_linear")
        self.emit("Add", [linear, positive], out)

    def pad(self, op):
        """PAD with an NHWC [4, 2] paddings constant -> ONNX Pad in NCHW."""
        x, p = (int(i) for i in op.InputsAsNumpy())
        out = int(op.OutputsAsNumpy()[0])
        nchw = self.constants[p][list(NHWC_TO_NCHW)]  # rows reordered to N, C, H, W
        pads = np.concatenate([nchw[:, 0], nchw[:, 1]]).astype(np.int64)
        self.emit("Pad", [self.value(x, NCHW), self.initializer(f"t{out}_pads", pads)], out)

    def resize_bilinear(self, op):
        """RESIZE_BILINEAR -> Resize(linear) with scales (batch stays dynamic)."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        opts = self.options(op, tflite.ResizeBilinearOptions)
        if opts.AlignCorners():
            mode = "align_corners"
        elif opts.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        (_, ih, iw, _), (_, oh, ow, _) = self.shape(x), self.shape(out)
        scales = np.array([1, 1, oh / ih, ow / iw], np.float32)
        self.emit("Resize", [self.value(x, NCHW), "", self.initializer(f"t{out}_scales", scales)], out,
                  mode="linear", coordinate_transformation_mode=mode)

    def depth_to_space(self, op):
        """TF depth_to_space on NHWC == ONNX DepthToSpace mode DCR on NCHW."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        block = self.options(op, tflite.DepthToSpaceOptions).BlockSize()
        self.emit("DepthToSpace", [self.value(x, NCHW)], out, blocksize=block, mode="DCR")

    def reshape(self, op):
        """RESHAPE in TFLite (NHWC) layout; batch dim 0 = copy from input."""
        x, out = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        shape = np.array([0] + self.shape(out)[1:], np.int64)
        if self.any_size:  # [batch, anchors, values]: the anchor count follows the input size
            shape[1] = -1
        self.emit("Reshape", [self.value(x, TF), self.initializer(f"t{out}_shape", shape)], out, layout=TF)

    def concatenation(self, op):
        """CONCATENATION: 4-D inputs in NCHW with a remapped axis, else as-is."""
        inputs = [int(i) for i in op.InputsAsNumpy()]
        out = int(op.OutputsAsNumpy()[0])
        opts = self.options(op, tflite.ConcatenationOptions)
        rank = len(self.shape(out))
        axis = opts.Axis() % rank
        layout = NCHW if rank == 4 else TF
        if rank == 4:
            axis = NHWC_AXIS_TO_NCHW[axis]
        self.emit("Concat", [self.value(i, layout) for i in inputs], out, opts.FusedActivationFunction(),
                  layout=layout, axis=axis)

    # --------------------------------------------------------------- driver
    def convert_op(self, name: str, op):
        handlers = {
            "CONV_2D": lambda: self.conv(op, depthwise=False),
            "DEPTHWISE_CONV_2D": lambda: self.conv(op, depthwise=True),
            "MAX_POOL_2D": lambda: self.max_pool(op),
            "ADD": lambda: self.add(op),
            "RELU": lambda: self.relu(op),
            "PRELU": lambda: self.prelu(op),
            "PAD": lambda: self.pad(op),
            "RESIZE_BILINEAR": lambda: self.resize_bilinear(op),
            "DEPTH_TO_SPACE": lambda: self.depth_to_space(op),
            "RESHAPE": lambda: self.reshape(op),
            "CONCATENATION": lambda: self.concatenation(op),
            "MUL": lambda: self.mul(op),
            "HARD_SWISH": lambda: self.unary(op, "HardSwish"),
            "LOGISTIC": lambda: self.unary(op, "Sigmoid"),
            "AVERAGE_POOL_2D": lambda: self.average_pool(op),
            "CUSTOM:Convolution2DTransposeBias": lambda: self.transpose_conv_bias(op),
        }
        if name in ("DEQUANTIZE", "DENSIFY"):
            return  # weights already decoded in self.constants
        if name not in handlers:
            raise NotImplementedError(f"{self.path.name}: unsupported op {name}")
        handlers[name]()

    def convert(self) -> onnx.ModelProto:
        (in_idx,) = [self.graph.Inputs(i) for i in range(self.graph.InputsLength())]
        in_name = self.tensor_name(in_idx)
        self.values[in_idx] = {TF: in_name}
        for name, op in self._ops():
            self.convert_op(name, op)

        outputs = []
        for i in range(self.graph.OutputsLength()):
            idx = self.graph.Outputs(i)
            assert self.value(idx, TF) == self.tensor_name(idx)
            dims = ["batch"] + self.shape(idx)[1:]
            if self.any_size:
                dims[1] = "anchors"
            outputs.append(helper.make_tensor_value_info(self.tensor_name(idx), TensorProto.FLOAT, dims))
        graph = helper.make_graph(
            self.nodes, self.path.stem,
            [helper.make_tensor_value_info(in_name, TensorProto.FLOAT,
                                           ["batch"] + (["height", "width"] if self.any_size else
                                                        self.shape(in_idx)[1:3]) + self.shape(in_idx)[3:])],
            outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="face_pipeline/tools/convert_mediapipe.py",
                                  doc_string=f"Converted from MediaPipe {self.path.name} (Apache-2.0)")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


# ------------------------------------------------------------------ checking
def load_image_input(image: Path, size: tuple[int, int], value_range: tuple[float, float]) -> np.ndarray:
    """Centre-square crop of ``image`` resized to the model input, scaled to its range."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lo, hi = value_range
    return img * (hi - lo) + lo


def check_model(tflite_path: Path, onnx_path: Path, value_range, image: Path | None, seed: int = 0) -> list[dict]:
    """Compare onnxruntime (one batched call) with LiteRT (per-sample) outputs."""
    import onnxruntime as ort

    interp = make_interpreter(tflite_path)
    in_detail = interp.get_input_details()[0]
    out_details = interp.get_output_details()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    shape = tuple(in_detail["shape"][1:])
    rng = np.random.default_rng(seed)
    lo, hi = value_range

    cases = {}
    for batch in (1, 3):
        cases[f"random b{batch}"] = rng.uniform(lo, hi, (batch,) + shape).astype(np.float32)
    if image is not None:
        crop = load_image_input(image, shape[:2], value_range)
        cases["image b1"] = crop[None]
        cases["image b3"] = np.stack([crop, crop[:, ::-1], crop * 0.8 + 0.2 * lo]).astype(np.float32)

    rows = []
    for case, x in cases.items():
        onnx_out = sess.run([d["name"] for d in out_details], {sess.get_inputs()[0].name: x})
        ref = {d["name"]: [] for d in out_details}
        for sample in x:
            interp.set_tensor(in_detail["index"], sample[None])
            interp.invoke()
            for d in out_details:
                ref[d["name"]].append(interp.get_tensor(d["index"])[0].copy())
        for d, got in zip(out_details, onnx_out):
            want = np.stack(ref[d["name"]])
            diff = float(np.abs(got - want).max())
            scale = float(np.abs(want).max())
            rows.append(dict(model=onnx_path.name, case=case, output=d["name"], max_abs_diff=diff,
                             output_scale=scale, rel=diff / max(scale, 1e-6)))
    return rows


def print_table(rows: list[dict]) -> None:
    print("| model | case | output | max abs diff | max abs output | relative |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['case']} | {r['output']} | {r['max_abs_diff']:.2e} | "
              f"{r['output_scale']:.3g} | {r['rel']:.2e} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True, help="mediapipe/modules dir extracted from the wheel")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "mediapipe")
    parser.add_argument("--check", action="store_true", help="validate against ai-edge-litert")
    parser.add_argument("--image", type=Path, help="real image used for --check (centre crop)")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for src_rel, dst_name, value_range, any_size in MODELS:
        src, dst = args.src / src_rel, args.out / dst_name
        model = TFLiteToONNX(src, any_size).convert()
        onnx.save(model, dst)
        print(f"{src_rel} ({sha256(src)[:12]}) -> {dst} ({dst.stat().st_size / 1e6:.2f} MB, "
              f"{len(model.graph.node)} nodes, sha256 {sha256(dst)[:12]})")
        if args.check and TFLiteToONNX(src).has_custom_ops():
            print(f"  {dst_name}: custom ops, LiteRT cannot run it; validate with "
                  "tools/mediapipe_reference.py --selfie")
        elif args.check:
            rows += check_model(src, dst, value_range, args.image)
    if rows:
        print_table(rows)
        worst = max(r["rel"] for r in rows)
        print(f"worst relative difference: {worst:.2e}")
        if worst > 1e-3:
            print("FAILED: difference above 1e-3 of the output scale")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
