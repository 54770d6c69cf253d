"""Test setup: load the repository root as the package ``face_pipeline``.

ComfyUI imports a custom-node folder as a package named after the folder; the tests do the
same under a fixed name so that every module's relative imports resolve exactly as in ComfyUI.
"""
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if (ROOT / "face_pipeline" / "__init__.py").is_file():   # mutation testing's staged copy
    ROOT = ROOT / "face_pipeline"                         # (tools/mutation/run.sh)
TESTDATA = next((p / "shared" / "testdata" for p in ROOT.parents
                 if (p / "shared" / "testdata").is_dir()), ROOT.parent / "shared" / "testdata")

sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()


def load_rgb(relpath: str):
    """A test image from ../shared/testdata as uint8 RGB ``[H, W, 3]``."""
    import cv2

    frame = cv2.imread(str(TESTDATA / relpath), cv2.IMREAD_COLOR)
    if frame is None:
        raise FileNotFoundError(TESTDATA / relpath)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def as_image(*frames):
    """uint8 RGB frames of one size -> IMAGE tensor ``[B, H, W, 3]`` float32 0..1."""
    import numpy as np
    import torch

    return torch.from_numpy(np.stack(frames).astype(np.float32) / 255.0)


def save_onnx(graph, path):
    """Save a test-built ONNX graph loadable by any onnxruntime >= 1.16 (IR 8, opset 17)."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture
def http_server(tmp_path):
    """A static HTTP server on 127.0.0.1 serving ``root``: yields ``(root, base_url)``."""
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def read_webm_alpha(path):
    """RGBA uint8 ``[B, H, W, 4]`` of a WebM, decoded with libvpx-vp9 (which keeps the alpha;
    FFmpeg's native vp9 decoder drops it)."""
    import av
    import numpy as np

    frames = []
    with av.open(str(path)) as container:
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        for packet in container.demux(container.streams.video[0]):
            frames += [f.to_ndarray(format="rgba") for f in decoder.decode(packet)]
    return np.stack(frames)


HELD_OUT = ["faces/biden/1.jpg", "faces/obama/3.jpg"]
"""Photos the quality ranges (vision/quality.py) and the blend's detail gate (vision/blend.py)
were not calibrated on (their calibration set is ../shared/testdata/lowres): tests of those
ranges assert on these, degraded by :func:`degraded`."""


def jpeg(frame, level):
    """``frame`` (uint8 RGB) through JPEG at quality ``level``."""
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, level])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def degraded(frame):
    """The lowres recipes applied to ``frame`` (downscales anti-aliased, as image editors do)."""
    import cv2
    import numpy as np

    h, w = frame.shape[:2]
    down = lambda image, k: cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    noisy = down(cv2.GaussianBlur(frame, (0, 0), 2.0), 4).astype(np.float32)
    noisy += np.random.default_rng(0).normal(0, 8, noisy.shape)
    return {"hr": frame, "x4": down(frame, 4), "x8": down(frame, 8), "jpeg10": jpeg(frame, 10),
            "mixed": jpeg(np.clip(noisy, 0, 255).astype(np.uint8), 30)}


def checked_poisson_clone(target, source, mask):
    """``poisson.poisson_clone(target, source, mask)`` after asserting what every clone holds:
    pixels outside the solved region bit-identical to the target, the source's gradients inside
    it (away from its edge: the Laplacian of image - source about 0), and a source equal to the
    target plus an offset giving the target back.  Returns ``(image, region, interior)``."""
    import cv2
    import numpy as np
    from face_pipeline.vision import poisson

    image, region = poisson.poisson_clone(target, source, mask)
    outside = region == 0
    assert np.array_equal(image[outside], target[outside])
    interior = cv2.erode(region, np.ones((3, 3), np.uint8)) > 0
    lap = cv2.Laplacian((image - source).astype(np.float64), cv2.CV_64F, ksize=1)
    assert np.abs(lap[interior]).mean() < 1e-3                 # source gradients kept
    shifted, _ = poisson.poisson_clone(target, target + 0.1, mask)
    assert np.abs(shifted - target).max() < 2e-3
    return image, region, interior
