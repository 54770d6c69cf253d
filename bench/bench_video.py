"""Benchmark: video face tracking against per-frame detection + landmarks, and the full swap.

Run: python bench/bench_video.py   (writes bench/results_video.md)

Clips of 720p and 1080p with 1 or 3 faces (the portraits seen by a slowly panning camera,
tests/video_clips.py).  "per-frame" is Detect Faces + Face Landmarks on every frame (the
baseline, measured in the same run); "tracking" is Track Faces with its defaults (detector
every 10 frames, mesh crops from the previous landmarks, smoothing).  Both use the full-range
MediaPipe detector: with the default short-range one, the 3-face clips lose two faces.  "swap" is the one-node
mesh-warp Face Swap given those faces.  Peak memory is the process's peak RSS growth during
the run (a rough high-water mark); the per-frame memory is measured separately in fresh
processes.  The machine is shared by other jobs: read ratios, not absolute times.
"""
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


def clip(size, faces):
    """uint8 frames: ``faces`` portraits side by side, each seen by a panning camera."""
    w, h = size
    names = ["astronaut", "grace_hopper", "astronaut"][:faces]
    part = (w // faces, h)
    columns = []
    for k, name in enumerate(names):
        image = clips.portrait(name)
        (cx, cy), radius = FACE_CENTRES[name]
        zoom = 0.35 * h / (2 * radius)  # faces of about a third of the frame height
        path = [((2.0 * t + 5 * k, 0.0), 0.0, zoom) for t in range(FRAMES)]
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
                        f"{1 / (1 / fps_track + 1 / fps_swap):.1f} | {found[0]}/{found[1]} | "
                        f"{peak_mb():.0f} (+{peak_mb() - before:.0f}) |")
            print(rows[-1], flush=True)
    small, large = swap_memory(8), swap_memory(16)
    per_frame_mb = (large - small) / 8
    print(f"memory per 1080p frame: {per_frame_mb:.0f} MB", flush=True)
    text = ["# Video: tracking vs per-frame detection (CPU, 2 shared cores)", "",
            f"{FRAMES} frames per clip; fps = frames per second; full = faces + mesh-warp swap "
            "+ gated blend. Faces found: per-frame / tracking (frames x faces).", "",
            "| clip | faces | detect+landmarks fps (per-frame) | tracking fps | speed-up | "
            "full swap fps (per-frame) | full swap fps (tracking) | faces found | peak RSS MB "
            "(swap growth) |", "|---|---|---|---|---|---|---|---|---|", *rows, "",
            f"Peak memory of Track Faces + Face Swap beyond the input clip, per 1080p frame "
            f"(RSS growth at 16 frames minus at 8, fresh processes): {per_frame_mb:.0f} MB "
            f"(one float32 RGB 1080p frame is 24.9 MB, its mask 8.3 MB).", ""]
    (ROOT / "bench" / "results_video.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
