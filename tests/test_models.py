"""Model registry, file resolution, downloads, ONNX sessions and the SCRFD slot."""
import hashlib
import os
import signal

import numpy as np
import pytest
from conftest import as_image, load_rgb, save_onnx
from onnx import TensorProto, helper
from tiny_models import SCRFD_SIZE, tiny_scrfd

from face_pipeline.models import onnx as ort_cache
from face_pipeline.models import paths, registry
from face_pipeline.models.detectors import SCRFDDetector, load_detector
from face_pipeline.models.download import download
from face_pipeline.pipeline import faces as ops


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    monkeypatch.delenv("FACE_PIPELINE_ALLOW_DOWNLOADS", raising=False)
    yield tmp_path
    ort_cache.unload_all()


def test_every_manifest_entry_is_complete():
    for spec in registry.manifest().values():
        assert spec.task and spec.license and spec.files and spec.backend
        for f in spec.files:
            if not spec.embedded:   # no sha256 known: never downloaded, placed by hand
                assert f.urls and len(f.sha256) in (0, 64), spec.id
    assert registry.model_ids("detect")[0] == "mediapipe_face_short"  # embedded default first


def test_embedded_models_resolve_offline():
    for model_id in ("mediapipe_face_short", "mediapipe_face_full", "mediapipe_face_mesh"):
        assert all(p.is_file() for p in registry.resolve_files(registry.get_spec(model_id)))


@pytest.mark.parametrize("name", ["../../x.onnx", "/etc/passwd", "..\\..\\x.onnx", "a/../../x.onnx", ""])
def test_model_names_cannot_leave_the_models_folder(models_dir, name):
    with pytest.raises(ValueError, match="model file name|invalid model"):
        paths.safe_join(models_dir, name)


def test_symlink_out_of_the_models_folder_is_refused(models_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.onnx"
    outside.write_bytes(b"x")
    (models_dir / "link.onnx").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the models folder"):
        paths.find_model_file("link.onnx")


def test_missing_model_without_downloads_names_file_place_and_alternative(models_dir):
    with pytest.raises(registry.ModelUnavailableError) as err:
        load_detector("scrfd_10g")
    message = str(err.value)
    assert "det_10g.onnx" in message and str(models_dir) in message
    assert "https://" in message and "mediapipe_face_short" in message
    assert "non-commercial" in message
    assert not (models_dir / "det_10g.onnx").exists()


def test_corrupt_model_file_is_a_clear_error(models_dir):
    (models_dir / "det_10g.onnx").write_bytes(b"this is not an onnx model")
    with pytest.raises(ValueError, match="det_10g.onnx could not be loaded.*Delete it"):
        load_detector("scrfd_10g")


def test_wrong_model_in_the_slot_is_a_clear_error(models_dir):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64, 64])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    save_onnx(graph, models_dir / "det_10g.onnx")
    with pytest.raises(ValueError, match="not an SCRFD detector"):
        load_detector("scrfd_10g")


# ------------------------------------------------------------------ tiny SCRFD

def test_tiny_scrfd_model_decodes_the_box_it_encodes(models_dir):
    # Anchor 10 of stride 16 sits at cell 5 -> (x, y) = (1, 1) * 16 = (16, 16) input pixels.
    distances = [0.5, 0.75, 1.0, 1.25]                      # in strides: l, t, r, b
    kps = np.array([[-0.5, -0.25], [0.5, -0.25], [0, 0], [-0.25, 0.5], [0.25, 0.5]]).ravel()
    tiny_scrfd(models_dir / "det_10g.onnx", level=1, anchor=10, distances=distances, kps_offsets=kps)
    detector = load_detector("scrfd_10g")
    assert isinstance(detector, SCRFDDetector) and detector.size == SCRFD_SIZE
    frame = np.zeros((128, 96, 3), np.uint8)                 # letterboxed at scale 0.5, top-left
    boxes, points, scores = detector(frame, 0.5)
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.9)
    expected = (np.array([16 - 8, 16 - 12, 16 + 16, 16 + 20]) / 0.5)
    np.testing.assert_allclose(boxes[0], expected, atol=1e-4)
    np.testing.assert_allclose(points[0], (16 + kps.reshape(5, 2) * 16) / 0.5, atol=1e-4)


def test_scrfd_slot_runs_through_the_pipeline(models_dir):
    tiny_scrfd(models_dir / "det_10g.onnx", level=0, anchor=0, distances=[1, 1, 1, 1],
               kps_offsets=np.zeros(10))
    image = as_image(load_rgb("faces/nasa_astronaut/1.png"))
    faces = ops.detect_faces(image, "scrfd_10g", verify=False)
    assert faces.count == 1 and faces.frames[0][0].detector == "scrfd_10g"


# ------------------------------------------------------------------ downloads

def test_download_is_verified_and_atomic(tmp_path, http_server):
    root, url = http_server
    payload = b"model bytes" * 1000
    (root / "m.onnx").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "models" / "m.onnx"
    with pytest.raises(RuntimeError, match="sha256 mismatch"):
        download([f"{url}/m.onnx"], dest, "0" * 64)
    with pytest.raises(RuntimeError, match="no sha256"):          # never unverified
        download([f"{url}/m.onnx"], dest, "")
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no partial file left
    seen = []
    assert download([f"{url}/missing.onnx", f"{url}/m.onnx"], dest, good,
                    progress=lambda done, total: seen.append(done)) == dest
    assert dest.read_bytes() == payload and seen[-1] == len(payload)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_process_runs_the_models():
    """A process forked after the models ran (multiprocessing's fork, a test runner's workers)
    loads its own sessions and worker pool instead of waiting forever on the parent's threads."""
    image = as_image(load_rgb("faces/grace_hopper/1.jpg"))
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    pid = os.fork()
    if pid == 0:   # the child: any exception or hang is a failure
        code = 1
        try:
            signal.alarm(60)
            again = ops.add_landmarks(image, ops.detect_faces(image))
            code = 0 if np.allclose(again.frames[0][0].landmarks, faces.frames[0][0].landmarks,
                                    atol=1e-3) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
