"""Benchmark: Detect Faces + Face Landmarks per frame on CPU, against MediaPipe 0.10.14 itself.

Run: python bench/bench_faces.py   (writes bench/results_faces.md)

The pack runs MediaPipe's own face detector, mesh and iris networks (converted to ONNX), so the
peer is MediaPipe 0.10.14 on the same frames, in the same run, timed round by round in turn
with the pack (the machines are shared and noisy; alternating keeps both under the same load).
MediaPipe is installed by this script into its own venv under
``~/.cache/face_pipeline_bench`` (never into the pack's environment) and driven through
``bench/mediapipe_peer.py``; without network access to PyPI the peer columns are skipped.

Frames of 512x512, 1280x720 and 1920x1080 hold one public-domain portrait (face about 45% of
the frame height).  Pack timings start from the IMAGE tensor (conversion included).
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import cpu_description, frame_with_face  # noqa: E402
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.models import landmarkers as lm  # noqa: E402
from face_pipeline.models.detectors import load_detector  # noqa: E402
from face_pipeline.models.landmarkers import load_landmarker  # noqa: E402
from face_pipeline.models.onnx import SMALL_GRAPH_THREADS, cpu_cores, run_split  # noqa: E402
from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.vision import detection as det  # noqa: E402
from face_pipeline.vision import landmarks as lmk  # noqa: E402
from face_pipeline.vision.face import Face  # noqa: E402
from face_pipeline.vision.image import check_finite, frame_float, unit_scale  # noqa: E402

LOAD = os.getloadavg()
SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}
ROUNDS, RUNS = 7, 5  # rounds alternate pack and MediaPipe; runs per round per measurement
PEER_TASKS = {"detect_whole": "detect_short", "detect_full_whole": "detect_full",
              "detect478": "mesh478", "detect468": "mesh468"}
"""Pack measurement -> the MediaPipe task timed right after it (same load, a ratio's two sides)."""
MP_VERSION = "0.10.14"
MP_VENV = pathlib.Path.home() / ".cache" / "face_pipeline_bench" / f"mediapipe-{MP_VERSION}"
MACHINES = ROOT / "bench" / "results_faces_machines.json"
"""One summary per run of this script (machine, load, ratios), oldest first: the ratios change
with the CPU (MediaPipe's XNNPACK and ONNX Runtime's MLAS gain differently from AVX-512), so the
results file shows every machine measured, not only the latest."""
MP_DEPS = ["absl-py", "attrs", "flatbuffers", "numpy<2", "protobuf<5",
           "opencv-python-headless", "matplotlib"]


def mediapipe_python() -> pathlib.Path | None:
    """The peer venv's python, created on first use; None when it cannot be installed."""
    python = MP_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing mediapipe=={MP_VERSION} into {MP_VENV} ...")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(MP_VENV)], check=True)
            pip = [str(python), "-m", "pip", "install", "-q"]
            subprocess.run(pip + [f"mediapipe=={MP_VERSION}", "--no-deps"], check=True)
            subprocess.run(pip + MP_DEPS, check=True)
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"MediaPipe peer unavailable ({exc}); peer columns skipped")
            return None
    return python


class Peer:
    """MediaPipe in its own process (bench/mediapipe_peer.py)."""

    def __init__(self, python: pathlib.Path, frames: dict[str, np.ndarray]):
        self.tmp = tempfile.NamedTemporaryFile(suffix=".npz", delete=False)
        np.savez(self.tmp.name, **frames)
        self.proc = subprocess.Popen([str(python), str(ROOT / "bench/mediapipe_peer.py"),
                                      self.tmp.name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.version = self.proc.stdout.readline().split()[1]

    def ask(self, line: str):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        pathlib.Path(self.tmp.name).unlink()


def timed(fn, runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Seconds per call: wall clock, and CPU time of the whole process (all threads)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def pack_measurements(image: torch.Tensor) -> dict:
    """Callables per measurement: whole-frame paths and the stages of detect + 478."""
    detector = load_detector(ops.DEFAULT_DETECTOR)
    full = load_detector("mediapipe_face_full")
    marker = load_landmarker(ops.DEFAULT_LANDMARKER)
    frame = frame_float(image, 0)
    faces = ops.detect_faces(image, scan="whole_frame")
    bare = faces.map_frames(lambda i, fs: [f.with_(mesh=None) for f in fs])
    square, _ = det.letterbox(frame, detector.size)
    blob = square[None].astype(np.float32) * (2 * unit_scale(frame)) - 1.0
    raw, logits = detector.session.run(None, {detector.input_name: blob})
    assert len(detector._decode(raw[0], logits[0], detector.size, detector.size, 0.5)[2]) == 1
    rois = [lmk.mesh_roi_from_face(f) for f in faces.frames[0]]
    crops, _ = lm._crops(frame, rois, lm.MESH_SIZE)
    meshes, _ = marker.mesh(frame, rois)
    eye_rois = [r for m in meshes for r in lmk.iris_rois(m)]
    eyes, _ = lm._crops(frame, eye_rois, lm.IRIS_SIZE, flips=[False, True] * len(meshes))
    return {
        # end to end (what a user's graph runs)
        "detect_whole": lambda: ops.detect_faces(image, scan="whole_frame", verify=False),
        "detect_whole_verified": lambda: ops.detect_faces(image, scan="whole_frame"),
        "detect_full_whole": lambda: ops.detect_faces(image, "mediapipe_face_full",
                                                      scan="whole_frame", verify=False),
        "detect_default": lambda: ops.detect_faces(image),
        "detect478": lambda: ops.add_landmarks(image, ops.detect_faces(image, scan="whole_frame")),
        # the same two networks as MediaPipe's FaceMesh without refine_landmarks: detector + mesh
        "detect468": lambda: marker.mesh(frame_float(image, 0), [
            lmk.mesh_roi_from_face(f)
            for f in ops.detect_faces(image, scan="whole_frame", verify=False).frames[0]]),
        "detect478_default": lambda: ops.add_landmarks(image, ops.detect_faces(image)),
        "landmarks_reusing_mesh": lambda: ops.add_landmarks(image, faces),
        "landmarks_from_box": lambda: ops.add_landmarks(image, bare),
        # stages
        "s_check_finite": lambda: check_finite(image, "image"),
        "s_to_frame": lambda: frame_float(image, 0),
        "s_letterbox": lambda: det.letterbox(frame, detector.size),
        "s_detector_onnx": lambda: detector.session.run(None, {detector.input_name: blob}),
        "s_full_detector_onnx": lambda: full.session.run(
            None, {full.input_name: np.zeros((1, full.size, full.size, 3), np.float32)}),
        "s_decode_nms": lambda: detector._decode(raw[0], logits[0], detector.size, detector.size, 0.5),
        "s_mesh_crop": lambda: lm._crops(frame, rois, lm.MESH_SIZE),
        "s_mesh_onnx": lambda: marker.mesh_session.run(None, {marker._mesh_input: crops}),
        "s_iris_crops": lambda: lm._crops(frame, eye_rois, lm.IRIS_SIZE,
                                          flips=[False, True] * len(meshes)),
        "s_iris_onnx": lambda: marker.iris_session.run(None, {marker._iris_input: eyes}),
        "s_iris_split": lambda: run_split(marker.iris_session, marker._iris_input, eyes),
        "s_refine_eyes_total": lambda: marker.refine_eyes(frame, meshes),
    }


def sequence_profile(image: torch.Tensor, frames: int = 100) -> tuple[dict[str, float], float]:
    """CPU ms per step of detect + 478 on one face, the steps run in the pipeline's order (so
    each finds the caches as the step before left them: the frame, network weights and
    activations evicted in turn) and timed with the process's CPU clock; the eye crops go
    through the iris network in one call on this thread (its CPU time is then all counted).
    Also the median CPU ms of the end-to-end call, run in turn with the steps."""
    detector = load_detector(ops.DEFAULT_DETECTOR)
    marker = load_landmarker(ops.DEFAULT_LANDMARKER)
    spent: dict[str, list[float]] = {}

    def step(name, fn):
        start = time.process_time()
        out = fn()
        spent.setdefault(name, []).append(time.process_time() - start)
        return out

    def one_frame():
        frame = step("IMAGE -> float frame view", lambda: frame_float(image, 0))
        square, box = step("letterbox", lambda: det.letterbox(frame, detector.size))
        blob = step("detector input (scale to -1..1)",
                    lambda: square[None] * np.float32(2 * unit_scale(frame)) - np.float32(1))
        raw, logits = step("short-range detector, ONNX Runtime",
                           lambda: detector.session.run(None, {detector.input_name: blob}))
        boxes, kps, scores = step("anchor decoding + weighted NMS", lambda: detector._decode(
            raw[0], logits[0], detector.size, detector.size, 0.5))
        roi = step("face + mesh crop region", lambda: lmk.mesh_roi_from_face(Face(
            box=box.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4)[0], score=float(scores[0]),
            keypoints=box.to_frame(kps)[0])))
        crops, back = step("mesh crop (192 px)", lambda: lm._crops(frame, [roi], lm.MESH_SIZE))
        points, _ = step("face mesh, ONNX Runtime",
                         lambda: marker.mesh_session.run(None, {marker._mesh_input: crops}))
        mesh = step("mesh -> frame pixels", lambda: lm._to_frame(points.reshape(1, 468, 3), back))
        eyes, eye_back = step("two eye crops (64 px)", lambda: lm._crops(
            frame, lmk.iris_rois(mesh[0]), lm.IRIS_SIZE, flips=[False, True]))
        contours, _ = step("iris model, both eyes in one call, ONNX Runtime",
                           lambda: marker.iris_session.run(None, {marker._iris_input: eyes}))
        step("eyes -> frame pixels, head pose", lambda: (
            lm._to_frame(contours.reshape(2, 71, 3), eye_back), lmk.head_pose(mesh[0])))

    def end_to_end():  # what the steps leave out, under the same load
        start = time.process_time()
        ops.add_landmarks(image, ops.detect_faces(image, scan="whole_frame"))
        whole.append(time.process_time() - start)

    whole: list[float] = []
    for _ in range(10):
        one_frame(), end_to_end()
    spent.clear(), whole.clear()
    for _ in range(frames):
        one_frame(), end_to_end()
    steps = {name: 1000 * statistics.median(v) for name, v in spent.items()}
    return steps, 1000 * statistics.median(whole)


def main():
    frames = {label: frame_with_face(w, h) for label, (w, h) in SIZES.items()}
    python = mediapipe_python()
    peer = Peer(python, frames) if python else None
    results = {}
    for label, frame in frames.items():
        image = torch.from_numpy(frame[None].astype(np.float32) / 255)
        pack = pack_measurements(image)
        assert ops.detect_faces(image).count == 1, f"{label}: expected one face"
        if peer:
            counts = peer.ask(f"count {label}")
            assert all(c == 1 for c in counts.values()), (label, counts)
        times = {name: [] for name in pack}
        cpu = {name: [] for name in pack}
        for fn in pack.values():
            fn()  # warm-up
        if peer:
            for task in ("detect_short", "detect_full", "mesh478", "mesh468"):
                peer.ask(f"{task} {label} 2")
        for _ in range(ROUNDS):
            for name, fn in pack.items():
                wall, used = timed(fn)
                times[name] += wall
                cpu[name] += used
                if peer and name in PEER_TASKS:  # the peer right after its pack counterpart
                    answer = peer.ask(f"{PEER_TASKS[name]} {label} {RUNS}")
                    times.setdefault("mp_" + PEER_TASKS[name], []).extend(answer["wall"])
                    cpu.setdefault("mp_" + PEER_TASKS[name], []).extend(answer["cpu"])
        results[label] = {k: 1000 * statistics.median(v) for k, v in times.items()}
        results[label].update({"cpu_" + k: 1000 * statistics.median(v) for k, v in cpu.items()})
        results[label]["sequence"], results[label]["sequence_whole"] = sequence_profile(image)
        print(label, {k: round(v, 2) for k, v in results[label].items() if k != "sequence"})
    if peer:
        version = peer.version
        peer.close()
    write_results(results, version if peer else None)


def run_summary(results: dict) -> dict:
    """This run as one row of :data:`MACHINES`: ratios pack / MediaPipe per frame size."""
    def ratio(r, pack, peer):
        return round(r[pack] / r[peer], 2) if peer in r else None

    return {"date": time.strftime("%Y-%m-%d"), "machine": cpu_description(), "cores": cpu_cores(),
            "load": [round(LOAD[0], 1), round(os.getloadavg()[0], 1)],
            "detect478": {k: [ratio(r, "detect478", "mp_mesh478"),
                              ratio(r, "cpu_detect478", "cpu_mp_mesh478")] for k, r in results.items()},
            "detect": {k: [ratio(r, "detect_whole", "mp_detect_short"),
                           ratio(r, "cpu_detect_whole", "cpu_mp_detect_short")]
                       for k, r in results.items()},
            "detect478_ms": {k: [round(r["detect478"], 1), round(r.get("mp_mesh478", 0), 1)]
                             for k, r in results.items()}}


def machines_table(runs: list[dict]) -> list[str]:
    """The ``MACHINES`` runs as a markdown table (ratios: wall clock, CPU time in brackets)."""
    sizes = list(SIZES)

    def pair(values):
        wall, cpu = values
        return "-" if wall is None else f"{wall:.2f} ({cpu:.2f})"

    lines = ["| date | CPU | cores | load (start / end) | detect + 478, pack / MediaPipe at "
             + " / ".join(sizes) + " | whole-frame detection, pack / MediaPipe at "
             + " / ".join(sizes) + " | detect + 478 ms, pack / MediaPipe at " + " / ".join(sizes)
             + " |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(
            f"| {run['date']} | {run['machine']} | {run['cores']} | {run['load'][0]} / "
            f"{run['load'][1]} | " + " / ".join(pair(run["detect478"][s]) for s in sizes) + " | "
            + " / ".join(pair(run["detect"][s]) for s in sizes) + " | "
            + "; ".join("{:.1f} / {:.1f}".format(*run["detect478_ms"][s]) for s in sizes) + " |")
    return lines


def write_results(results: dict, mp_version):
    def ratio(r, a, b):
        return f"{r[a] / r[b]:.2f}" if b in r else "-"

    def ms(r, k):
        return f"{r[k]:.1f}" if k in r else "-"

    lines = [
        "# Detect Faces + Face Landmarks (478) vs MediaPipe, CPU",
        "",
        f"Machine: {cpu_description()}, {cpu_cores()} cores usable; "
        f"pack sessions: {SMALL_GRAPH_THREADS} intra-op thread for single inputs of the MediaPipe "
        f"networks, small-face scan tiles one per call over {cpu_cores()} workers; medians of {ROUNDS} rounds x {RUNS} "
        f"runs, pack and MediaPipe {mp_version or '(not installed)'} alternating (each MediaPipe task "
        "runs right after its pack counterpart, in every round); "
        "`python bench/bench_faces.py`. Load average (1 min) at the start and end of the run: "
        f"{LOAD[0]:.1f} / {os.getloadavg()[0]:.1f}; the machines are shared, so absolute times "
        "swing with other work, the ratios less.",
        "",
        "Frames hold one portrait (face ~45% of the frame height). MediaPipe: `FaceDetection` "
        "(short / full range), `FaceMesh(static_image_mode=True, refine_landmarks=True)` "
        "(detection + 478 points every call: detector + attention mesh) and the same with "
        "`refine_landmarks=False` (detection + 468 points: detector + plain face mesh, **the same "
        "two networks the pack runs**). Pack: `detect_faces` and `add_landmarks` from the "
        "IMAGE tensor (NaN/inf checked in the models' inputs); whole_frame = "
        "`scan='whole_frame'`; detect + 468 = `detect_faces(scan='whole_frame', verify=False)` "
        "then the landmarker's mesh stage on each box (no iris).",
        "",
        "## Per frame, pack vs MediaPipe",
        "",
        "| frame | MP detect short ms | pack detect ms (whole frame, verify off) | ratio | "
        "MP detect full ms | pack full-range ms | ratio | pack detect + verify ms | "
        "MP detect+478 ms | pack detect+478 ms (whole frame) | ratio | "
        "MP detect+468 ms (same models) | pack detect+468 ms | ratio | pack defaults (scan auto) "
        "detect / detect+478 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {ms(r, 'mp_detect_short')} | {ms(r, 'detect_whole')} | "
            f"{ratio(r, 'detect_whole', 'mp_detect_short')} | {ms(r, 'mp_detect_full')} | "
            f"{ms(r, 'detect_full_whole')} | {ratio(r, 'detect_full_whole', 'mp_detect_full')} | "
            f"{ms(r, 'detect_whole_verified')} | {ms(r, 'mp_mesh478')} | {ms(r, 'detect478')} | "
            f"{ratio(r, 'detect478', 'mp_mesh478')} | {ms(r, 'mp_mesh468')} | "
            f"{ms(r, 'detect468')} | {ratio(r, 'detect468', 'mp_mesh468')} | "
            f"{ms(r, 'detect_default')} / "
            f"{ms(r, 'detect478_default')} |")
    lines += ["", "## CPU time per frame (all threads of the process), pack vs MediaPipe", "",
              "Both run these networks on about one core (CPU time close to wall time when the "
              "machine is idle); on shared, overcommitted cores the wall clock also holds the "
              "time the process waited for a core. CPU time shows the work each does per frame.",
              "", "| frame | MP detect short | pack detect (whole frame, verify off) | ratio | "
              "MP detect+478 | pack detect+478 | ratio | MP detect+468 (same models) | "
              "pack detect+468 | ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        lines.append(
            f"| {label} | {ms(r, 'cpu_mp_detect_short')} | {ms(r, 'cpu_detect_whole')} | "
            f"{ratio(r, 'cpu_detect_whole', 'cpu_mp_detect_short')} | {ms(r, 'cpu_mp_mesh478')} | "
            f"{ms(r, 'cpu_detect478')} | {ratio(r, 'cpu_detect478', 'cpu_mp_mesh478')} | "
            f"{ms(r, 'cpu_mp_mesh468')} | {ms(r, 'cpu_detect468')} | "
            f"{ratio(r, 'cpu_detect468', 'cpu_mp_mesh468')} |")
    stages = [("s_check_finite", "NaN/inf check of a whole IMAGE (other nodes; not on this path)"),
              ("s_to_frame", "IMAGE tensor -> float frame view (no copy; twice per frame)"),
              ("s_letterbox", "letterbox resize to the detector input"),
              ("s_detector_onnx", "short-range detector, ONNX Runtime"),
              ("s_full_detector_onnx", "full-range detector, ONNX Runtime"),
              ("s_decode_nms", "anchor decoding + weighted NMS"),
              ("s_mesh_crop", "mesh crop (rotated warp, 192 px)"),
              ("s_mesh_onnx", "face mesh, ONNX Runtime"),
              ("s_iris_crops", "two eye crops (64 px)"),
              ("s_iris_onnx", "iris model, both eyes in one batched call (the pack's way), ONNX Runtime"),
              ("s_iris_split", "iris model, both eyes as two calls side by side (run_split; not used)"),
              ("s_refine_eyes_total", "eyes total (crops + iris + mapping back)"),
              ("landmarks_reusing_mesh", "Face Landmarks after a verified detection (mesh reused)"),
              ("landmarks_from_box", "Face Landmarks from a box only (mesh + eyes)")]
    path = ["s_to_frame", "s_to_frame", "s_letterbox", "s_detector_onnx", "s_decode_nms",
            "s_mesh_crop", "s_mesh_onnx", "s_iris_crops", "s_iris_onnx"]
    for r in results.values():
        r["rest"] = r["detect478"] - sum(r[k] for k in path)
        r["cpu_rest"] = r["cpu_detect478"] - sum(r["cpu_" + k] for k in path)
    lines += ["", "## Where the time goes (pack, ms per frame: wall / CPU)", "",
              "| stage | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for key, text in stages + [("rest", "rest of detect + 478: Python bookkeeping (boxes, "
                                        "FACES, head pose, crop maps), thread hand-offs")]:
        lines.append(f"| {text} | " + " | ".join(
            f"{ms(r, key)} / {ms(r, 'cpu_' + key)}" for r in results.values()) + " |")
    lines += ["", "Stages are timed alone (warm caches); the last row is the end-to-end detect + "
              "478 time minus the stages on its path, so it also holds what running them in "
              "sequence costs (caches refilled between networks)."]
    lines += ["", "## In sequence (pack, CPU ms per frame, steps in the pipeline's order)", "",
              "Each step finds the caches as the step before left them (the whole frame read by the "
              "letterbox, then each network's weights and activations in turn); the iris network "
              "takes both eye crops in one call on the same thread, so all its CPU time is "
              "counted. The end-to-end run adds the pack's bookkeeping around these steps (FACES, "
              "verification, model lookup).", "",
              "| step | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    first = next(iter(results.values()))["sequence"]
    for name in first:
        lines.append(f"| {name} | " + " | ".join(
            f"{r['sequence'][name]:.2f}" for r in results.values()) + " |")
    lines.append("| **sum** | " + " | ".join(
        f"**{sum(r['sequence'].values()):.1f}**" for r in results.values()) + " |")
    lines.append("| detect + 478 end to end, run in turn with the steps | " + " | ".join(
        f"{r['sequence_whole']:.1f}" for r in results.values()) + " |")
    lines.append("| end to end minus the sum: bookkeeping (FACES, the verification's candidate "
                 "faces, model lookups, checks) | " + " | ".join(
                     f"{r['sequence_whole'] - sum(r['sequence'].values()):.1f}"
                     for r in results.values()) + " |")
    lines += ["",
              "Network sizes (multiply-accumulates of the convolutions, counted in the TFLite "
              "graphs): short-range detector 31 M, face mesh 35 M, iris 54 M per eye; the pack "
              "runs 31 + 35 + 2 x 54 = 173 M per face, MediaPipe's detect + 478 runs the detector "
              "and its attention mesh (43.5 M, which places the irises itself) = 75 M. At equal "
              "speed per operation the pack does 2.3x MediaPipe's arithmetic per frame; the "
              "attention mesh needs custom TFLite ops and gives other points than mesh + iris, "
              "which today's landmarks must keep (within 0.5% of the eye distance). Detect + 468 "
              "runs the same two networks on both sides (31 + 35 = 66 M), so its ratio shows how "
              "fast the pack feeds and runs MediaPipe's own networks.",
              "", "## Tried and dropped (measured, not in the pack)", "",
              "| what | CPU per call | landmarks vs today's (max, % of eye distance, 8 test "
              "images) | verdict |", "|---|---|---|---|",
              "| iris network int8 (ONNX Runtime `quantize_static`, per-channel int8 weights, uint8 "
              "activations, QDQ, MinMax calibration on 144 jittered eye crops of the green-screen "
              "stills and `greenscreen_pan.mp4`, images no test asserts on) | 1.66-2.31 ms per eye "
              "against fp32 1.46-2.03 ms (7 alternating rounds in two runs, load 4.0-6.8; "
              "AVX512-VNNI CPU): no gain | 1.59% (percentile 99.99 calibration: 2.00%; QOperator format: 13.0%) | "
              "dropped: 3x over the 0.5% limit, and no faster |",
              "| iris: both eye crops as two one-thread calls side by side (`run_split`) instead "
              "of one batched call | see the stage rows above; detect + 478 end to end, 8 "
              "alternating rounds, load 6.3: 720p 11.03 against 10.74 ms CPU (wall 20.2 / 19.6), "
              "1080p 12.13 against 11.68 ms CPU (wall 23.7 / 23.4) | identical (bit for bit) | "
              "dropped: more CPU and no wall gain on this 2-core machine; a machine with a free "
              "second core would save about one eye's call (~1.5 ms) of wall time. Measured again "
              "on an idle machine (AMD EPYC, AVX2, load 0.5; 20 alternating rounds): wall 16.8 / "
              "17.0 / 19.5 against 18.1 / 19.5 / 21.2 ms at 512x512 / 720p / 1080p, but CPU "
              "20.5 / 20.6 / 23.3 against 18.1 / 19.5 / 21.2 ms: 1.1-2.4 ms more work per frame "
              "for 1.4-2.5 ms less wait, and nothing gained once other work holds the second "
              "core (ComfyUI's own threads, a second queue) |",
              "| detector input from a few source rows per output row (1-4 rows, evenly spaced "
              "in each row's cell, each averaged across its columns) instead of the area average "
              "of every row: reads a fraction of the float frame (AMD EPYC, AVX2, idle, frame "
              "cold) | 1080p 1.7-2.8 ms against 2.7 ms, 720p 1.3-1.9 against 1.5: the gather "
              "costs what the reading saves | 2.13% (1 row), 1.95% (2), 0.77% (3), 1.60% (4), "
              "against 0.47% today: the detector's box moves and the mesh follows it | dropped: "
              "over the 0.5% limit, and no steady gain |",
              "| OpenCV's DNN module (`cv2.dnn`, one thread) on the three networks, their PReLUs "
              "as real PRelu ops (which it fuses into the convolutions) | AMD EPYC, AVX2: iris "
              "(2 eyes) 10.3 against 5.9 ms, mesh 6.5 against 3.5, detector 4.5 against 2.6 "
              "| outputs within 7e-7 of the ONNX Runtime ones | dropped: 1.7-1.8x slower |",
              "| ONNX Runtime 1.32's own PRelu op in place of the converter's two per-channel "
              "1x1 convolutions | iris 13.1 against 6.5 ms, mesh 7.1 against 3.3 ms (AMD EPYC) | "
              "float rounding | dropped: 2x slower (it leaves the blocked layout) |",
              "| denormals flushed to zero (`session.set_denormal_as_zero`) | iris 5.25 against "
              "5.17 ms, mesh 3.24 against 3.25, detector 2.46 against 2.48 (AMD EPYC) | "
              "identical | dropped: no change (these networks make no denormals) |",
              "| letterbox: the vertical pass as numpy adds of strided row views, "
              "`np.add.reduceat`, one `np.dot` or `cv2.reduce` per output row, or OpenCV's area "
              "resize of the frame seen as one `[H, W*3]` plane, instead of the batched matmul "
              "(CPU ms, cold frame, load 4-5) | 1080p: 1.63 (adds), 10.7 (reduceat), 1.6-2.1 "
              "(per row), 2.5 (plane) against 1.3-1.9 for the matmul; 512x512 adds 0.82 against "
              "0.40; reading the frame alone (`max`) takes 0.9-1.2 ms at 1080p | float rounding | "
              "dropped: slower |",
              "| letterbox split over two threads (each half of the output rows, numpy's "
              "matmul releases the GIL) | load 4.7: CPU 0.59 / 1.16 / 1.70 ms against 0.44 / "
              "0.96 / 1.56 on one thread (512x512 / 720p / 1080p), wall 0.61 / 1.17 / 1.74 against "
              "0.44 / 0.95 / 1.57 | identical | dropped: more CPU and no wall gain on these shared "
              "cores |",
              "| mesh crop warped straight from the frame (no copied rectangle), or the rectangle "
              "read once first (a `max` over it) to bring it into the caches | 1080p, frame cold "
              "after the letterbox: 0.8-1.5 ms either way against 1.05-1.4 ms for copy + warp "
              "(runs swing more than the variants differ) | identical | dropped: no steady gain "
              "(the exact 192 px float warp itself costs 0.2-0.26 ms) |",
              "| ONNX Runtime graph optimisation EXTENDED or BASIC instead of ALL (no NCHWc "
              "blocked layout, so no layout reorders around the detector's channel Pads) | "
              "detector 2.9 against 1.85 ms, mesh 4.1 against 1.6 ms | 1e-5 | dropped: the "
              "blocked convolutions are worth far more than the reorders |",
              "| OpenCV on one thread (`cv2.setNumThreads(1)`; warps and resizes use 2) | "
              "detect + 478 end to end, 30 alternating rounds: 512x512 9.26 against 9.18 ms "
              "CPU, 1080p 12.2 against 11.7 | identical | dropped: no change (the pack leaves "
              "OpenCV's setting alone) |"]
    runs = json.loads(MACHINES.read_text()) if MACHINES.exists() else []
    if mp_version:
        runs.append(run_summary(results))
        MACHINES.write_text(json.dumps(runs, indent=1) + "\n")
    lines += ["", "## Every machine measured (this script's runs, oldest first)", "",
              "Ratios are pack / MediaPipe per frame on the wall clock, CPU time in brackets; "
              "the aim is 1.5 or less. The same code and models give different ratios on "
              "different CPUs: MediaPipe's XNNPACK gains more from AVX-512 than ONNX Runtime "
              "does.", ""] + machines_table(runs)
    (ROOT / "bench" / "results_faces.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
