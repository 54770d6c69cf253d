"""Benchmark: face enhancement per face on CPU, for each embedded engine, against bicubic.

Run: python bench/bench_enhance.py   (writes bench/results_enhance.md)

Faces: the high-resolution Obama portrait (``lowres/hr_gt.png``) and Grace Hopper
(``workflows/inputs``), each shrunk (area resampling) until the face is 32, 64 or 128 px wide.
Per face and engine: the wall and CPU time of one :func:`vision.restore.enhance_face` call (FFHQ crop ->
engine -> 512 px crop, the face's own structure kept: Enhance Faces' default; median of the
runs), BRISQUE of the 512 px crop (``brisque`` package, lower is better), the dlib identity
distance to the original face's crop (lower is better) and PSNR against it -- with the
structure kept and, from the same engine output, for the network's whole output
(``keep_structure`` off).  Bicubic (the plain 512 px FFHQ crop of the small face) is the
baseline, measured in the same run.
"""
import os
import pathlib
import sys
import time

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (loads the pack as face_pipeline)
from conftest import as_image, load_rgb  # noqa: E402
from test_restore import brisque, embedding, to_uint8  # noqa: E402

from face_pipeline.pipeline.faces import detect_faces  # noqa: E402
from face_pipeline.pipeline.restore import get_enhancer  # noqa: E402
from face_pipeline.vision import geometry  # noqa: E402
from face_pipeline.vision.restore import enhance_face, keep_structure, magnification  # noqa: E402

ENGINES = {"realesr_animevideov3_x4": 3, "esrgan_slim_x4": 3, "realesrgan_x4plus": 1}  # runs
WIDTHS = (32, 64, 128)
FACES = {"obama (hr_gt)": "lowres/hr_gt.png", "grace hopper": None}


def ffhq(frame, keypoints):
    matrix = geometry.similarity_transform(keypoints, geometry.Template("ffhq_512", 512).points)
    return np.clip(geometry.warp_crop(frame, matrix, (512, 512)), 0, 1)


def main():
    torch.set_num_threads(2)
    load = os.getloadavg()
    engines = {name: get_enhancer(name, device="cpu") for name in ENGINES}
    rows = []
    for label, rel in FACES.items():
        rgb = load_rgb(rel) if rel else cv2.cvtColor(
            cv2.imread(str(ROOT / "workflows/inputs/grace_hopper.jpg")), cv2.COLOR_BGR2RGB)
        face = detect_faces(as_image(rgb)).frames[0][0]
        reference = ffhq(rgb.astype(np.float32) / 255, face.keypoints)
        e_ref = embedding(reference)
        for width in WIDTHS:
            scale = width / face.width
            small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            small_face = detect_faces(as_image(small)).frames[0][0]
            frame = small.astype(np.float32) / 255
            results = {}
            for name, enhancer in [("bicubic", None)] + list(engines.items()):
                times, cpu = [], []
                for _ in range(1 if enhancer is None else ENGINES[name]):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    if enhancer is None:
                        crop = ffhq(frame, small_face.keypoints)
                    else:
                        whole, plain, matrix = enhance_face(frame, small_face.keypoints,
                                                            enhancer, structure=False)
                        crop = keep_structure(whole, plain, magnification(matrix))
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
                timing = (float(np.median(times)), float(np.median(cpu)))
                variants = [(name, crop)] if enhancer is None else [
                    (name, crop), (f"{name} (whole output)", whole)]
                for row, image in variants:
                    results[row] = timing + (brisque(image),
                                             float(np.linalg.norm(embedding(image) - e_ref)),
                                             cv2.PSNR(to_uint8(image), to_uint8(reference)))
                    print(label, width, row, [round(v, 3) for v in results[row]], flush=True)
            rows.append((label, width, results))
    lines = ["# Face enhancement per face, CPU (2 threads)", "",
             "`python bench/bench_enhance.py`. One call of `enhance_face` (FFHQ crop -> engine -> "
             "512 px crop, the face's own structure kept: Enhance Faces' default), median of 3 "
             "runs (animevideov3, esrgan_slim) or 1 run (x4plus); '(whole output)' rows: the same "
             "engine output without keeping the structure (same time). Baseline: bicubic "
             "(the plain FFHQ crop of the small face), same run. BRISQUE: lower is better "
             "(`brisque` package). Identity: dlib distance to the full-size face's crop (lower "
             "is better; same person below 0.43). PSNR against the full-size crop. The machine "
             f"was shared with other jobs (load average {load[0]:.1f} at the start and "
             f"{os.getloadavg()[0]:.1f} at the end of this run, on 2 cores): "
             "wall times grow with that load; the CPU seconds the "
             "process used are load-independent, and on an idle 2-core machine the wall time "
             "lies between half of them (both cores busy) and all of them.", "",
             "| face | width px | engine | wall s / face | CPU s / face | BRISQUE | identity "
             "| PSNR dB |", "|---|---|---|---|---|---|---|---|"]
    for label, width, results in rows:
        for name, (sec, cpu, bq, ident, psnr) in results.items():
            lines.append(f"| {label} | {width} | {name} | {sec:.3f} | {cpu:.3f} | "
                         f"{bq:.1f} | {ident:.3f} | {psnr:.2f} |")
    (ROOT / "bench" / "results_enhance.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
