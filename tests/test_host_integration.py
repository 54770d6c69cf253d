"""What the host (ComfyUI) sees of the pack: one progress bar per node and a Cancel that stops
every per-frame pass, the device choices this onnxruntime build can honour, the provider that ran
in the report, and an install step that brings every runtime import."""
import ast
import importlib.metadata
import pathlib
import re
import sys

import numpy as np
import pytest
from conftest import ROOT, as_image, load_rgb

import face_pipeline
from face_pipeline.models import onnx as ort_cache
from face_pipeline.nodes import _comfy

HOPPER = "faces/grace_hopper/1.jpg"
ASTRONAUT = "faces/nasa_astronaut/1.png"


class Interrupted(Exception):
    pass


class FakeComfy:
    """Stands in for comfy.utils (ProgressBar) and comfy.model_management (interrupt flag)."""

    def __init__(self, interrupt_at=None):
        self.bars, self.checks, self.interrupt_at = [], 0, interrupt_at
        host = self

        class ProgressBar:
            def __init__(self, total):
                self.total, self.value = total, 0
                host.bars.append(self)

            def update(self, value):
                self.value += value

        self.ProgressBar = ProgressBar

    def throw_exception_if_processing_interrupted(self):
        self.checks += 1
        if self.interrupt_at is not None and self.checks > self.interrupt_at:
            raise Interrupted


@pytest.fixture
def fake_comfy(monkeypatch):
    def install(interrupt_at=None):
        fake = FakeComfy(interrupt_at)
        monkeypatch.setattr(_comfy, "_utils", fake)
        monkeypatch.setattr(_comfy, "_mm", fake)
        return fake
    return install


def _swap_node(frames=3):
    node = face_pipeline.NODE_CLASS_MAPPINGS["FacePipelineFaceSwap"]()
    defaults = {name: spec[1]["default"] for name, spec in node.INPUT_TYPES()["required"].items()
                if "default" in spec[1]}
    src = as_image(load_rgb(ASTRONAUT))
    tgt = as_image(*[load_rgb(HOPPER)] * frames)
    return node, dict(defaults, source_image=src, target_image=tgt)


def test_face_swap_fills_one_progress_bar_once(fake_comfy):
    fake = fake_comfy()
    node, inputs = _swap_node(frames=3)
    _, _, report = node.swap(**inputs)
    assert len(fake.bars) == 1, "one bar per node, not one per pass"
    bar = fake.bars[0]
    assert bar.value == bar.total == 3 * 4  # detect, landmarks, swap, blend over 3 frames
    assert "models ran on: CPUExecutionProvider" in report


@pytest.mark.parametrize("stage", range(4))
def test_face_swap_cancel_stops_every_pass(fake_comfy, stage):
    """An interrupt raised during pass ``stage`` (detect, landmarks, swap, blend) stops the node
    before the next frame of that pass."""
    frames = 3
    fake = fake_comfy(interrupt_at=stage * frames + 1)
    node, inputs = _swap_node(frames)
    with pytest.raises(Interrupted):
        node.swap(**inputs)
    assert fake.checks == stage * frames + 2
    assert fake.bars[0].value == stage * frames + 1


def test_device_choices_are_those_this_build_has():
    available = set(ort_cache.ort.get_available_providers())
    assert ort_cache.DEVICES[0] == "auto" and "cpu" in ort_cache.DEVICES
    for device in ort_cache.DEVICES[1:]:
        assert ort_cache.PROVIDERS[device] in available
    spec = face_pipeline.NODE_CLASS_MAPPINGS["FacePipelineDetectFaces"].INPUT_TYPES()
    assert spec["required"]["device"][0] == ort_cache.DEVICES


@pytest.mark.skipif("CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers(),
                    reason="this onnxruntime build has CUDA")
def test_unavailable_device_is_reported_as_such_not_as_a_corrupt_file():
    model = ROOT / "models" / "mediapipe" / "face_detection_short_range.onnx"
    with pytest.raises(ValueError) as err:
        ort_cache.get_session(model, "cuda")
    message = str(err.value)
    assert "device 'cuda' is not available" in message and "cpu" in message
    assert "corrupt" not in message and "Delete" not in message


# --- install path: requirements.txt + install.py bring every runtime import -------------------
HOST_MODULES = {"comfy", "folder_paths", "server", "execution", "nodes", "torch"}  # ComfyUI's


def _declared() -> set[str]:
    """Distribution names requirements.txt and install.py install (normalised)."""
    names = set()
    spec = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = spec.match(line.split("#")[0].strip())
        if m:
            names.add(m.group(1))
    sys.path.insert(0, str(ROOT))
    try:
        import install
    finally:
        sys.path.remove(str(ROOT))
    for req, alternatives in install.ALTERNATIVES.items():
        names.update(alternatives)
        names.add(spec.match(req).group(1))
    return {n.lower().replace("_", "-") for n in names}


def _module_level_imports() -> set[str]:
    """Third-party modules imported at module level by the pack's runtime code (guarded imports
    inside ``try`` blocks, ComfyUI's, are not at module level and so not counted)."""
    runtime = [p for p in ROOT.rglob("*.py")
               if not {"tests", "bench", "tools", "scripts", ".venv", "docs"} & set(p.parts)]
    own = {p.name for p in ROOT.iterdir() if p.is_dir()} | {p.stem for p in ROOT.glob("*.py")}
    found = set()
    for path in runtime:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - own - HOST_MODULES - {"__future__"}


def test_every_runtime_import_is_installed_by_requirements_or_install_py():
    declared = _declared()
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(_module_level_imports()):
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not dists & declared:
            missing.append(module)
    assert not missing, f"imported at load time but installed by neither file: {missing}"


def test_install_py_prefers_the_gpu_runtime_only_where_none_is_installed(monkeypatch):
    sys.path.insert(0, str(ROOT))
    try:
        import install
    finally:
        sys.path.remove(str(ROOT))
    monkeypatch.setattr(install, "installed", lambda name: False)
    assert install.ONNXRUNTIME_GPU in install.missing(cuda=True)
    assert install.ONNXRUNTIME in install.missing(cuda=False)
    for variant in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml"):
        monkeypatch.setattr(install, "installed", lambda name, v=variant: name == v)
        assert not [r for r in install.missing(cuda=True) if r.startswith("onnxruntime")]
