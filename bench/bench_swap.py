"""Benchmark: mesh-warp face swap per frame (one face) on CPU, against a hard paste.

Run: python bench/bench_swap.py [--previous CHECKOUT]   (writes bench/results_swap.md)

``--previous`` also measures the swap of another checkout (e.g. the commit before the realism
work: this script loaded with ``--pack CHECKOUT --swap-only`` in a subprocess), alternating
with this checkout's, and reports the ratio.  Because the shared machine's load swings (load
average 5-20 on 2 cores), that comparison is in CPU time of the process
(``time.process_time``) with OpenCV and torch on one thread: per process the least of 7
rounds, then the median over 5 alternations.
The realism steps are also timed one by one at 720p on one face: the blended mirror fill (a
turned source against a frontal one), the skin match with beard cleaning, the occluder mask,
the glasses test of the source and the skin match of a source wearing glasses, and the
watermark (embed and detect).

Target frames of 512x512, 1280x720 and 1920x1080 hold Grace Hopper's portrait; the source is
the astronaut, prepared once.  "swap" is warp + gated blend with the target's faces known (as
in a video graph where detection and landmarks are their own nodes, timed in
results_faces.md); "full" adds detection and landmarks on the target frame.  The baseline is a
hard paste (resize the source's face box into the target's box), measured in the same run.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
from common import frame_with_face, median_ms  # noqa: E402  (no pack imports)

if "--pack" in sys.argv:   # measure another checkout's pack
    import importlib.util
    _pack = pathlib.Path(sys.argv[sys.argv.index("--pack") + 1]).resolve()
    _spec = importlib.util.spec_from_file_location("face_pipeline", _pack / "__init__.py",
                                                   submodule_search_locations=[str(_pack)])
    sys.modules["face_pipeline"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["face_pipeline"])
else:
    sys.path.insert(0, str(ROOT))
    from run_workflow import load_pack
    load_pack()

from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.pipeline.swap import face_swap  # noqa: E402
from face_pipeline.vision import meshwarp as mw  # noqa: E402
from face_pipeline.vision.image import frame_float, frame_uint8  # noqa: E402

SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}
RUNS = 5


def as_image(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame[None].astype(np.float32) / 255)


def hard_paste(source, source_box, target, target_box):
    x1, y1, x2, y2 = np.round(target_box).astype(int)
    a1, b1, a2, b2 = np.round(source_box).astype(int)
    out = target.copy()
    out[y1:y2, x1:x2] = cv2.resize(source[b1:b2, a1:a2], (x2 - x1, y2 - y1))
    return out


def turned(landmarks, yaw):
    a = np.radians(yaw)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    centre = landmarks.mean(0)
    return ((landmarks - centre) @ rot.T + centre).astype(np.float32)


def cpu_ms(fn, rounds: int = 9) -> float:
    """Median CPU ms of ``fn`` (run after ``cpu_swap_ms`` set one thread)."""
    return median_ms(fn, rounds, clock=time.process_time)


GLASSES = np.array([-8.5, 4.0, 7.6], np.float32)
"""A frame colour (L*a*b* offset from the skin: Grace Hopper's amber rims) for the step of a
source that wears glasses."""


def realism_steps(source_image, source_faces, target, target_faces) -> dict:
    """CPU ms per face at the target's size for each realism step (module docstring), on
    one thread."""
    from face_pipeline.vision import skin, watermark
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    src, tgt = frame_float(source_image, 0), frame_float(target, 0)
    src_lm, tgt_lm = source_faces.frames[0][0].landmarks, target_faces.frames[0][0].landmarks
    mesh = mw.transfer_shape(tgt_lm, src_lm, 0.5)
    frontal = mw.prepare_source(src, src_lm)
    side_lm = turned(src_lm, 40)   # the same texture read as a turned head: mirror fill on
    side = mw.prepare_source(src, side_lm)
    side_mesh = mw.transfer_shape(tgt_lm, side_lm, 0.5)
    warped = mw.warp_face(frontal, mesh, tgt.shape[:2])
    x0, y0, x1, y1 = warped.box
    local = tgt_lm.copy()
    local[:, :2] -= (x0, y0)
    box = np.ascontiguousarray(tgt[y0:y1, x0:x1])
    marked = watermark.embed(tgt)
    steps = {
        "warp, frontal source": cpu_ms(lambda: mw.warp_face(frontal, mesh, tgt.shape[:2])),
        "warp, turned source (mirror fill)": cpu_ms(
            lambda: mw.warp_face(side, side_mesh, tgt.shape[:2])),
        "skin match + beard cleaning": cpu_ms(lambda: skin.skin_swap(
            warped.image, box, warped.mask, local, occlusion=False)),
        "... with the occluder mask": cpu_ms(lambda: skin.skin_swap(
            warped.image, box, warped.mask, local, occlusion=True)),
        "glasses test on the source (once per source)": cpu_ms(
            lambda: skin.wears_glasses(src, src_lm)),
        "skin match, source with glasses (frames left behind)": cpu_ms(lambda: skin.skin_swap(
            warped.image, box, warped.mask, local, occlusion=False, glasses=GLASSES)),
        "watermark embed (whole frame)": cpu_ms(lambda: watermark.embed(tgt)),
        "watermark detect (whole frame)": cpu_ms(lambda: watermark.score(marked)),
    }
    cv2.setNumThreads(threads[0])
    torch.set_num_threads(threads[1])
    return steps


def cpu_swap_ms(rounds: int = 7) -> dict:
    """CPU ms of one swap (warp + blend, faces known) per frame size: the least over
    ``rounds`` of the mean of 3 calls (other processes on a shared machine only ever add
    time: cache and memory-bus contention), OpenCV and torch on one thread."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    source_image, source_faces = astronaut()
    found = {}
    for label, (w, h) in SIZES.items():
        target = as_image(frame_with_face(w, h))
        target_faces = ops.add_landmarks(target, ops.detect_faces(target))
        call = lambda: face_swap(source_image, target, source_faces=source_faces,  # noqa: E731
                                 target_faces=target_faces)
        call()
        times = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(3):
                call()
            times.append((time.process_time() - start) / 3)
        found[label] = 1000 * min(times)
    return found


def astronaut():
    rgb = cv2.cvtColor(cv2.imread(str(ROOT / "workflows/inputs/astronaut.png")), cv2.COLOR_BGR2RGB)
    image = as_image(rgb)
    return image, ops.add_landmarks(image, ops.detect_faces(image))


def compare(previous: pathlib.Path, rounds: int = 5) -> tuple[dict, dict]:
    """Median over ``rounds`` alternations of (previous checkout, this checkout) CPU ms."""
    before, after = [], []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, __file__, "--pack", str(previous), "--swap-only"],
                             check=True, capture_output=True, text=True).stdout
        before.append(json.loads(out.strip().splitlines()[-1]))
        out = subprocess.run([sys.executable, __file__, "--swap-only"], check=True,
                             capture_output=True, text=True).stdout
        after.append(json.loads(out.strip().splitlines()[-1]))
    median = lambda runs: {k: statistics.median(r[k] for r in runs) for k in runs[0]}  # noqa
    return median(before), median(after)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--previous", type=pathlib.Path, default=None)
    parser.add_argument("--pack", type=pathlib.Path, default=None)
    parser.add_argument("--swap-only", action="store_true")
    args = parser.parse_args()
    if args.swap_only:
        print(json.dumps(cpu_swap_ms()))
        return
    previous, current = compare(args.previous) if args.previous else ({}, {})
    rgb = cv2.cvtColor(cv2.imread(str(ROOT / "workflows/inputs/astronaut.png")), cv2.COLOR_BGR2RGB)
    source_image = as_image(rgb)
    source_faces = ops.add_landmarks(source_image, ops.detect_faces(source_image))
    rows = []
    for label, (w, h) in SIZES.items():
        target = as_image(frame_with_face(w, h))
        target_faces = ops.add_landmarks(target, ops.detect_faces(target))
        s_box, t_box = source_faces.frames[0][0].box, target_faces.frames[0][0].box
        s_np, t_np = frame_uint8(source_image, 0), frame_uint8(target, 0)
        t = {
            "paste": median_ms(lambda: hard_paste(s_np, s_box, t_np, t_box), RUNS),
            "swap": median_ms(lambda: face_swap(source_image, target, source_faces=source_faces,
                                                target_faces=target_faces), RUNS),
            "full": median_ms(lambda: face_swap(source_image, target, source_faces=source_faces),
                              RUNS),
        }
        rows.append((label, t))
        print(label, {k: round(v, 1) for k, v in t.items()})
        if label == "720p":
            steps = realism_steps(source_image, source_faces, target, target_faces)
            print(steps)
    lines = ["# Mesh-warp face swap per frame (one face), CPU", "",
             f"Median of {RUNS} runs; `python bench/bench_swap.py`. Baseline: hard paste of the "
             "source's face box into the target's box, same run.", "",
             "| frame | hard paste ms | swap ms (warp + gated blend) | fps | swap / paste | "
             "full ms (+ detect + landmarks) | fps |", "|---|---|---|---|---|---|---|"]
    for label, t in rows:
        lines.append(f"| {label} | {t['paste']:.2f} | {t['swap']:.1f} | {1000 / t['swap']:.0f} | "
                     f"{t['swap'] / t['paste']:.0f} | {t['full']:.1f} | {1000 / t['full']:.0f} |")
    if previous:
        lines += ["", f"Against the previous pipeline (`{args.previous}`), CPU ms per swap with one "
                  "thread (least of 7 rounds per process, median of 5 alternating processes), "
                  "defaults of each (here: skin match, watermark on):", "",
                  "| frame | previous CPU ms | this CPU ms | ratio |",
                  "|---|---|---|---|"]
        for label in SIZES:
            lines.append(f"| {label} | {previous[label]:.1f} | {current[label]:.1f} | "
                         f"{current[label] / previous[label]:.2f} |")
    lines += ["", "Realism steps at 720p, one face (median CPU ms, one thread):", "",
              "| step | CPU ms |", "|---|---|"]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in steps.items()]
    (ROOT / "bench" / "results_swap.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
