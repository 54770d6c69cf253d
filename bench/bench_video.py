"""Benchmark: video face tracking against per-frame detection + landmarks, and the full swap.

Run: python bench/bench_video.py [BASELINE_CHECKOUT]   (writes bench/results_video.md; with a
second checkout of the pack, e.g. ``git worktree add /tmp/base main``, Face Swap's CPU time is
also compared against it, alternating fresh processes)

Clips of 720p and 1080p with 1 or 3 faces (the portraits seen by a slowly panning camera,
tests/video_clips.py).  "per-frame" is Detect Faces + Face Landmarks on every frame (the
baseline, measured in the same run); "tracking" is Track Faces with its defaults (detector
every 10 frames, mesh crops from the previous landmarks, smoothing).  Both use the full-range
MediaPipe detector: with the default short-range one, the 3-face clips lose two faces.  "swap" is the one-node
mesh-warp Face Swap given those faces.  Peak memory is the process's peak RSS growth during
the run (a rough high-water mark); the per-frame memory is measured separately in fresh
processes.  A longer 720p clip measures the tracked swap with every node default (the
short-range detector finds all three faces since the detection scan work) in CPU time, and
the stage profile splits it.  The machine is shared by other jobs: read ratios, not absolute
times.
"""
import dataclasses
import json
import pathlib
import resource
import subprocess
import sys
import time

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from run_workflow import load_pack  # noqa: E402

load_pack()
import video_clips as clips  # noqa: E402

from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.pipeline.swap import face_swap  # noqa: E402
from face_pipeline.pipeline.tracking import track_faces  # noqa: E402

FRAMES = 20
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
DETECTOR = "mediapipe_face_full"  # the short-range default finds only the middle face of 3
FACE_CENTRES = {"astronaut": ((225, 130), 95), "grace_hopper": ((250, 190), 130)}


def clip(size, faces, frames: int = FRAMES):
    """``frames`` float32 frames: ``faces`` portraits side by side, each seen by a panning
    camera."""
    w, h = size
    names = ["astronaut", "grace_hopper", "astronaut"][:faces]
    part = (w // faces, h)
    columns = []
    for k, name in enumerate(names):
        image = clips.portrait(name)
        (cx, cy), radius = FACE_CENTRES[name]
        zoom = 0.35 * h / (2 * radius)  # faces of about a third of the frame height
        path = [((2.0 * t + 5 * k, 0.0), 0.0, zoom) for t in range(frames)]
        mats = [clips.camera((cx, cy), s, a, z, part) for s, a, z in path]
        columns.append(clips.render(image, mats, part, noise=3, seed=k,
                                    border=cv2.BORDER_REPLICATE))
    frames = np.concatenate(columns, axis=2)
    return torch.from_numpy(frames.astype(np.float32) / 255)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, FRAMES / (time.perf_counter() - start)


STAGES = [  # (label, kind, what): "cum" = cumulative time of a function (name, file
    # suffix), "own" = time spent in the code of these files themselves (tottime)
    ("tracking: detector (every 10 frames; includes waits on its tile threads)", "cum",
     ("detect_faces", "pipeline/faces.py")),
    ("tracking: landmark models (mesh + iris, with their pre/post-processing)", "cum",
     ("__call__", "models/landmarkers.py")),
    ("tracking: ... of which ONNX runs (all models)", "cum",
     ("run", "onnxruntime_pybind11_state.run")),
    ("tracking: bookkeeping (association, filters, cuts: vision/tracking.py, "
     "pipeline/tracking.py)", "own", ("vision/tracking.py", "pipeline/tracking.py")),
    ("tracking: frame -> uint8 around the crops", "cum", ("frame_uint8", "vision/image.py")),
    ("swap: input checks (NaN/inf scans)", "cum", ("check_finite", "vision/image.py")),
    ("swap: output batch copy", "cum", ("rgb_copy", "pipeline/swap_geometry.py")),
    ("swap: mesh warp of each face (warp_face)", "cum", ("warp_face", "vision/meshwarp.py")),
    ("swap: ... of which triangle map (rasterise)", "cum", ("rasterise", "vision/meshwarp.py")),
    ("swap: skin tone of each face (skin_swap)", "cum", ("skin_swap", "vision/skin.py")),
    ("swap: gated blend (each face's region)", "cum", ("gated_blend", "pipeline/blend.py")),
    ("swap: watermark", "cum", ("mark_frames", "pipeline/provenance.py")),
]


def cpu_ms(fn, frames: int) -> tuple[object, float]:
    """``fn()`` and its CPU time (this process, all threads) in ms per frame."""
    start = time.process_time()
    out = fn()
    return out, 1000 * (time.process_time() - start) / frames


def cpu_and_wall_ms(fn, frames: int) -> tuple[object, float, float]:
    """``fn()``, its CPU time (this process, all threads) and its wall time, in ms per frame."""
    wall = time.perf_counter()
    out, cpu = cpu_ms(fn, frames)
    return out, cpu, 1000 * (time.perf_counter() - wall) / frames


def stage_profile(source, source_faces, frames):
    """Rows of CPU ms per frame: tracking and swap measured whole without a profiler, then
    each stage under cProfile (CPU clock; its overhead inflates many small calls)."""
    import cProfile
    import pstats
    (tracked, _), track_ms = cpu_ms(lambda: track_faces(frames, detector=DETECTOR), len(frames))
    _, swap_ms = cpu_ms(lambda: face_swap(source, frames, source_faces=source_faces,
                                          target_faces=tracked), len(frames))
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    tracked, _ = track_faces(frames, detector=DETECTOR)
    face_swap(source, frames, source_faces=source_faces, target_faces=tracked)
    profile.disable()
    stats = pstats.Stats(profile).stats
    rows = [f"| tracking: whole (Track Faces, no profiler) | {track_ms:.1f} |",
            f"| swap: whole (Face Swap given the tracked faces, no profiler) | {swap_ms:.1f} |"]
    for label, kind, what in STAGES:
        if kind == "cum":
            name, where = what
            total = sum(v[3] for (file, _, func), v in stats.items()
                        if func == name and where in file) or sum(
                v[3] for (file, _, func), v in stats.items() if where in func)
        else:
            total = sum(v[2] for (file, _, _), v in stats.items()
                        if any(str(ROOT / w) in file for w in what))
        rows.append(f"| {label} | {1000 * total / len(frames):.1f} |")
    return rows


SWAP_AB = """
import dataclasses, json, sys, time
import numpy as np, torch
root, data = sys.argv[1], sys.argv[2]
sys.path[:0] = [root, root + "/tests"]
from run_workflow import load_pack
load_pack()
from face_pipeline.pipeline.swap import face_swap
from face_pipeline.vision.face import Face, FaceSet
arrays = np.load(data + ".npz", allow_pickle=False)
meta = json.loads(open(data + ".json").read())
names = {f.name for f in dataclasses.fields(Face)}
def face(fields):
    return Face(**{k: arrays[v] if k in meta["array_fields"] else v
                   for k, v in fields.items() if k in names})
source, frames = torch.from_numpy(arrays["source"]), torch.from_numpy(arrays["frames"])
source_faces, tracked = (FaceSet([tuple(face(f) for f in fs) for fs in meta[key]],
                                 [tuple(s) for s in meta[key + "_sizes"]])
                         for key in ("source_faces", "tracked"))
face_swap(source, frames[:2], source_faces=source_faces,
          target_faces=FaceSet(tracked.frames[:2], tracked.image_sizes[:2]))
best = float("inf")
for _ in range(3):
    start = time.process_time()
    face_swap(source, frames, source_faces=source_faces, target_faces=tracked)
    best = min(best, time.process_time() - start)
print(1000 * best / len(frames))
"""


def save_swap_inputs(path: str, source, frames, source_faces, tracked) -> None:
    """The A/B's inputs as ``path``.npz (arrays) + ``path``.json (the rest): no pickles, and
    readable by another checkout whose Face has other fields."""
    arrays = {"source": source.numpy(), "frames": frames.numpy()}
    meta = {"array_fields": []}
    for key, faces in (("source_faces", source_faces), ("tracked", tracked)):
        meta[key + "_sizes"] = [list(map(int, s)) for s in faces.image_sizes]
        meta[key] = []
        for i, frame in enumerate(faces.frames):
            entries = []
            for j, f in enumerate(frame):
                fields = {}
                for field in dataclasses.fields(f):
                    value = getattr(f, field.name)
                    if isinstance(value, np.ndarray):
                        arrays[f"{key}_{i}_{j}_{field.name}"] = value
                        fields[field.name] = f"{key}_{i}_{j}_{field.name}"
                        meta["array_fields"].append(field.name)
                    else:
                        fields[field.name] = value.item() if isinstance(value, np.generic) else value
                entries.append(fields)
            meta[key].append(entries)
    meta["array_fields"] = sorted(set(meta["array_fields"]))
    np.savez(path + ".npz", **arrays)
    pathlib.Path(path + ".json").write_text(json.dumps(meta))


def swap_ab(other: pathlib.Path, source, source_faces, rounds: int = 2) -> list[str]:
    """Face Swap given tracked faces, CPU ms per frame (best of 3 calls per process), this
    checkout against ``other`` (e.g. the main branch before this work), in fresh processes
    run alternately, on the same 720p clips and faces."""
    import tempfile
    rows = []
    for n in (1, 3):
        frames = clip(SIZES["720p"], n)
        tracked, _ = track_faces(frames, detector=DETECTOR)
        with tempfile.TemporaryDirectory() as folder:
            data = str(pathlib.Path(folder) / "inputs")
            save_swap_inputs(data, source, frames, source_faces, tracked)
            times: dict[str, list[float]] = {"other": [], "this": []}
            for _ in range(rounds):
                for side, root in (("other", other), ("this", ROOT)):
                    done = subprocess.run([sys.executable, "-c", SWAP_AB, str(root), data],
                                          capture_output=True, text=True, check=True)
                    times[side].append(float(done.stdout.strip().splitlines()[-1]))
        before, after = min(times["other"]), min(times["this"])
        rows.append(f"| 720p | {n} | {before:.1f} | {after:.1f} | {before / after:.1f}x |")
        print(rows[-1], times, flush=True)
    return rows


STEADY_FRAMES = 60


def steady_state(source, source_faces) -> list[str]:
    """CPU ms per frame of Track Faces (default detector, default settings) and of Face Swap
    given its faces on a longer 720p clip (the detector's first full scan amortised as in a
    real video), and the fps the two make together on CPU time."""
    rows = []
    for n in (1, 3):
        frames = clip(SIZES["720p"], n, STEADY_FRAMES)
        track_faces(frames[:2])
        (tracked, _), track_ms, track_wall = cpu_and_wall_ms(lambda: track_faces(frames),
                                                             len(frames))
        _, swap_ms, swap_wall = cpu_and_wall_ms(
            lambda: face_swap(source, frames, source_faces=source_faces, target_faces=tracked),
            len(frames))
        found = sum(len(f) for f in tracked.frames)
        rows.append(f"| 720p | {n} | {STEADY_FRAMES} | {track_ms:.1f} / {track_wall:.1f} | "
                    f"{swap_ms:.1f} / {swap_wall:.1f} | {1000 / (track_ms + swap_ms):.1f} | "
                    f"{1000 / (track_wall + swap_wall):.1f} | {found}/{n * STEADY_FRAMES} |")
        print(rows[-1], flush=True)
    return rows


def full_frame_blend(target, warped, mask, quality):
    """The blend as it was before it worked in the face's region: every frame converted,
    blended and clipped whole (:func:`vision.blend.gated_blend`), into a new batch."""
    from face_pipeline.vision import blend as vblend
    from face_pipeline.vision.image import frame_float
    images, masks = torch.empty(warped.shape), torch.empty(mask.shape)
    for i in range(target.shape[0]):
        result = vblend.gated_blend(frame_float(target, i), frame_float(warped, i),
                                    mask[i].numpy(), quality=quality)
        np.clip(result.image, 0, 1, out=images[i].numpy())
        np.clip(result.mask, 0, 1, out=masks[i].numpy())
    return images, masks


def blend_ratio(source, source_faces, frames):
    """fps of the region blend vs the full-frame blend on the same warped frames."""
    from face_pipeline.pipeline import blend as pblend
    from face_pipeline.pipeline.swap_geometry import mesh_warp_swap
    tracked, _ = track_faces(frames, detector=DETECTOR)
    warped, mask, _ = mesh_warp_swap(source, source_faces, frames, tracked)
    _, fps_full = timed(lambda: full_frame_blend(frames, warped, mask, 0.8))
    scratch, scratch_mask = warped.clone(), mask.clone()  # Face Swap blends in its own batches
    _, fps_region = timed(lambda: pblend.gated_blend(frames, scratch, scratch_mask, quality=0.8,
                                                      in_place=True))
    return fps_full, fps_region


def swap_memory(frames: int) -> float:
    """Peak RSS growth (MB) of Track Faces + Face Swap on ``frames`` 1080p frames, measured in
    a fresh process after the clip is in memory."""
    code = f"""
import sys; sys.path[:0] = [{str(ROOT / 'bench')!r}]
import bench_video as B, numpy as np, torch

def peak():  # VmHWM, the process's peak RSS in kB (Linux)
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))

source = torch.from_numpy(B.clips.portrait("grace_hopper")[None].astype(np.float32) / 255)
frames = B.clip((1920, 1080), 1)[:{frames}].clone()
B.face_swap(source, frames[:1])  # models loaded
open("/proc/self/clear_refs", "w").write("5")  # reset the peak
before = peak()
tracked, _ = B.track_faces(frames, detector=B.DETECTOR)
B.face_swap(source, frames, target_faces=tracked)
print((peak() - before) / 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main():
    source = torch.from_numpy(clips.portrait("grace_hopper")[None].astype(np.float32) / 255)
    source_faces = ops.add_landmarks(source, ops.detect_faces(source))
    rows = []
    for label, size in SIZES.items():
        for n in (1, 3):
            frames = clip(size, n)
            per_frame, fps_base = timed(lambda: ops.add_landmarks(
                frames, ops.detect_faces(frames, DETECTOR)))
            (tracked, _), fps_track = timed(lambda: track_faces(frames, detector=DETECTOR))
            before = peak_mb()
            _, fps_swap_base = timed(lambda: face_swap(source, frames, source_faces=source_faces,
                                                       target_faces=per_frame))
            _, fps_swap = timed(lambda: face_swap(source, frames, source_faces=source_faces,
                                                  target_faces=tracked))
            found = (sum(len(f) for f in per_frame.frames), sum(len(f) for f in tracked.frames))
            rows.append(f"| {label} | {n} | {fps_base:.1f} | {fps_track:.1f} | "
                        f"{fps_track / fps_base:.1f}x | {1 / (1 / fps_base + 1 / fps_swap_base):.1f} | "
                        f"{1 / (1 / fps_track + 1 / fps_swap):.1f} | {fps_swap:.1f} | "
                        f"{found[0]}/{found[1]} | "
                        f"{peak_mb():.0f} (+{peak_mb() - before:.0f}) |")
            print(rows[-1], flush=True)
    frames = clip(SIZES["720p"], 1)
    profile = stage_profile(source, source_faces, frames)
    print("\n".join(profile), flush=True)
    steady = steady_state(source, source_faces)
    other = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None
    ab = swap_ab(other, source, source_faces) if other else []
    fps_full, fps_region = blend_ratio(source, source_faces, frames)
    print(f"blend fps full-frame {fps_full:.1f} region {fps_region:.1f}", flush=True)
    load = open("/proc/loadavg").read().split()[:3]
    small, large = swap_memory(8), swap_memory(16)
    per_frame_mb = (large - small) / 8
    print(f"memory per 1080p frame: {per_frame_mb:.0f} MB", flush=True)
    text = ["# Video: tracking vs per-frame detection (CPU, 2 shared cores)", "",
            f"{FRAMES} frames per clip; fps = frames per second; full = faces + mesh-warp swap "
            "+ gated blend. Faces found: per-frame / tracking (frames x faces).", "",
            "| clip | faces | detect+landmarks fps (per-frame) | tracking fps | speed-up | "
            "full swap fps (per-frame) | full swap fps (tracking) | swap alone fps (faces "
            "given) | faces found | peak RSS MB (swap growth) |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
            f"Peak memory of Track Faces + Face Swap beyond the input clip, per 1080p frame "
            f"(RSS growth at 16 frames minus at 8, fresh processes): {per_frame_mb:.0f} MB "
            f"(one float32 RGB 1080p frame is 24.9 MB, its mask 8.3 MB).", "",
            f"Load average during the run (1, 5, 15 min, 2 cores shared with other jobs): "
            f"{', '.join(load)}.", "",
            "## The full tracked swap, steady state (longer clip, node defaults)", "",
            "Track Faces with its defaults (short-range detector; every 10 frames its quick "
            "whole-frame pass, every 30 its full scan) then Face Swap with its defaults (mesh "
            "warp, skin tone, watermark) given those faces; fps = 1000 / (tracking + swap) in "
            "ms per frame, on CPU time (this process, all threads) and on the wall clock "
            "(lower than CPU where the models use both cores, higher when other jobs "
            "compete).", "",
            "| clip | faces | frames | Track Faces ms/frame CPU / wall | Face Swap ms/frame CPU "
            "/ wall | fps on CPU time | fps on the wall clock | faces found |",
            "|---|---|---|---|---|---|---|---|", *steady, "",
            "## Where the time goes (720p, 1 face, tracking + Face Swap, CPU ms per frame)", "",
            "The two whole rows are measured without a profiler; the stages under cProfile on "
            "the CPU clock (its overhead inflates stages made of many small calls); \"... of "
            "which\" rows are part of the row above.", "",
            "| stage | CPU ms / frame |", "|---|---|", *profile, "",
            *(["## Face Swap given tracked faces: this checkout vs the baseline checkout "
               f"`{other}` (same run)", "",
               "CPU ms per frame, best of 3 calls in each of 2 fresh processes per side, run "
               "alternately on the same clip and faces.", "",
               "| clip | faces | baseline ms/frame | this ms/frame | speed-up |",
               "|---|---|---|---|---|", *ab, ""] if ab else []),
            f"Gated blend alone on the same warped frames: {fps_region:.0f} fps working in the "
            f"region around each face (now) vs {fps_full:.0f} fps on whole frames (before): "
            f"{fps_region / fps_full:.1f}x.", ""]
    (ROOT / "bench" / "results_video.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
