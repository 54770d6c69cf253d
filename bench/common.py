"""Inputs and timing shared by the benchmark scripts.  No pack imports: a script that measures
another checkout of the pack (``bench_swap.py --pack``) uses it too."""
import pathlib
import statistics
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def frame_with_face(width: int, height: int) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]``: Grace Hopper's portrait, 1/1.6 of the frame's height, centred
    on grey."""
    portrait = cv2.imread(str(ROOT / "workflows/inputs/grace_hopper.jpg"))[:, :, ::-1]
    h = height // 1.6
    face = cv2.resize(portrait, (int(h * 512 / 600), int(h)), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 120, np.uint8)
    y, x = (height - face.shape[0]) // 2, (width - face.shape[1]) // 2
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


def median_ms(fn, runs: int, clock=time.perf_counter) -> float:
    """Median ms of ``fn`` over ``runs`` runs (after one warm-up), by ``clock``: the wall
    clock, or ``time.process_time`` for the CPU time of the process."""
    fn()
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return 1000 * statistics.median(times)


def cpu_description() -> str:
    """The CPU as a results file should name it: model and widest vector extension (speed
    ratios between two libraries change with both), e.g. ``AMD EPYC, AVX2``; the machine
    type alone where ``/proc/cpuinfo`` is missing."""
    import platform
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    isa = next((name for flag, name in [("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"),
                                        ("avx2", "AVX2"), ("avx", "AVX")] if flag in flags), "")
    return ", ".join(part for part in (model or platform.machine(), isa) if part)
