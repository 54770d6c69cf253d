"""Benchmark: finding every face (issue 9) - time per frame by scan mode, detection rate by face
size, false positives on face-free frames; against the previous release in the same run.

Run: python bench/bench_detection.py [--fp-frames 100]   (writes bench/results_detection.md)

Baseline: the previous release (commit ``BASELINE``, extracted with ``git archive`` into a
temporary folder and imported as a second package), run on the same frames in the same
process, alternating with the current code.  Frames: tests/scenes.py (the six test portraits
pasted at 16-96 px into flat and busy synthetic backgrounds; seeds 50000+, not the tests' or the
calibration's), and face-free busy/flat/noise/stripe frames (seeds 60000+).
"""
import argparse
import os
import importlib.util
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from run_workflow import load_pack  # noqa: E402

load_pack()
from common import cpu_description, frame_with_face, median_ms  # noqa: E402
from scenes import crowd_frame, face_free, hits  # noqa: E402

from face_pipeline.models.onnx import cpu_cores  # noqa: E402
from face_pipeline.pipeline import faces as ops  # noqa: E402

BASELINE = "fbc3bc2"
LOAD = os.getloadavg()
SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}
FACE_SIZES = [16, 24, 32, 48, 64, 96]
RUNS = 5


def load_baseline():
    """The previous release's ``pipeline.faces`` module, imported as package ``fp_prev``."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="fp_prev_"))
    data = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE], check=True,
                          capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(data)).extractall(folder, filter="data")
    spec = importlib.util.spec_from_file_location("fp_prev", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["fp_prev"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("fp_prev.pipeline.faces")


def as_image(frame):
    return torch.from_numpy(frame[None].astype(np.float32) / 255)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fp-frames", type=int, default=100)
    args = parser.parse_args()
    prev = load_baseline()
    impls = {"current": ops, "previous": prev}
    scans = ["whole_frame", "auto", "whole_frame+tiles"]
    timing = {}
    for label, (w, h) in SIZES.items():
        for name, frame in (("portrait", frame_with_face(w, h)),
                            ("small faces (24 px)", crowd_frame(h, w, 24, "busy", 50000)[0])):
            image = as_image(frame)
            for scan in scans:
                for impl, mod in impls.items():
                    timing[(label, name, scan, impl)] = median_ms(lambda: mod.detect_faces(image, scan=scan), RUNS)
            print(label, name, {k[2:]: round(v) for k, v in timing.items() if k[:2] == (label, name)})
    rates = {}
    for impl, mod in impls.items():
        for (h, w) in ((720, 1280), (1080, 1920)):
            for size in FACE_SIZES:
                found = []
                for kind in ("flat", "busy"):
                    frame, centers = crowd_frame(h, w, size, kind, 50000 + size + h)
                    faces = mod.detect_faces(as_image(frame))
                    boxes = np.array([f.box for f in faces.frames[0]], np.float32).reshape(-1, 4)
                    found += list(hits(boxes, centers, size))
                rates[(impl, w, size)] = (sum(found), len(found))
        print(impl, {k[1:]: v for k, v in rates.items() if k[0] == impl})
    false = {}
    for impl, mod in impls.items():
        for scan in ("auto", "whole_frame+tiles"):
            false[(impl, scan)] = sum(
                mod.detect_faces(as_image(face_free(720, 1280, 60000 + k)), scan=scan).count
                for k in range(args.fp_frames))
    print("false faces", false)
    write(timing, rates, false, args.fp_frames)


def write(timing, rates, false, fp_frames):
    lines = [
        "# Finding every face: scan modes, detection rate by face size, false positives",
        "",
        f"`python bench/bench_detection.py` on {cpu_description()}, "
        f"{cpu_cores()} cores usable, CPU only; medians of {RUNS} runs. Baseline: the previous "
        f"release (commit {BASELINE}) in the same run. Load average (1 min) at the start and end of "
        f"the run: {LOAD[0]:.1f} / {os.getloadavg()[0]:.1f} on {cpu_cores()} cores; the machines "
        "are shared, so absolute times swing with other work: compare the columns.",
        "",
        "## Time per frame (ms), Detect Faces defaults except `scan`",
        "",
        "| frame | content | whole_frame now / before | auto (default) now / before | "
        "whole_frame+tiles now / before |",
        "|---|---|---|---|---|",
    ]
    for label in SIZES:
        for name in ("portrait", "small faces (24 px)"):
            cells = [f"{timing[(label, name, s, 'current')]:.0f} / {timing[(label, name, s, 'previous')]:.0f}"
                     for s in ("whole_frame", "auto", "whole_frame+tiles")]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Faces found with the defaults, by face width (6 portraits x flat and busy "
              "backgrounds per cell; a hit is centred within half a face width)", "",
              "| frame | " + " | ".join(f"{s} px" for s in FACE_SIZES) + " |",
              "|---|" + "---|" * len(FACE_SIZES)]
    for impl in ("current", "previous"):
        for w in (1280, 1920):
            lines.append(f"| {w}x{w * 9 // 16} {impl} | " + " | ".join(
                "{}/{}".format(*rates[(impl, w, s)]) for s in FACE_SIZES) + " |")
    lines += ["", f"## False faces on {fp_frames} face-free 1280x720 frames (busy shapes, flat, "
              "blurred noise, stripes)", "", "| scan | now | before |", "|---|---|---|"]
    for scan in ("auto", "whole_frame+tiles"):
        lines.append(f"| {scan} | {false[('current', scan)]} | {false[('previous', scan)]} |")
    (ROOT / "bench" / "results_detection.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
