"""Identity benchmark (not a test): embedding time per face, 1:N search time, tiny-probe accuracy.

Usage: python bench/bench_identity.py   (writes bench/results_identity.md next to this file)

- embedding: dlib_resnet_v1 on the test photos' largest faces (CPU), median of runs;
- search: synthetic unit 128-d galleries of 1k / 10k / 100k entries, one probe and a batch of
  16, median of runs;
- tiny probes: a different photo of a gallery identity shrunk to a face width of 16-48 px,
  clean and with noise (sigma 8) + JPEG 30, searched against full-resolution entries and
  against the entries embedded at the probe's width (multiscale).
"""
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import cpu_description  # noqa: E402
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.models.embedders import default_threshold, load_embedder  # noqa: E402
from face_pipeline.pipeline import identity as ops  # noqa: E402
from face_pipeline.pipeline.faces import detect_faces  # noqa: E402
from face_pipeline.vision.gallery import Gallery  # noqa: E402
from face_pipeline.vision.identity import distances, normalize  # noqa: E402
from face_pipeline.vision.image import to_image  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"
GALLERY = {"obama": "faces/obama/1.jpg", "biden": "faces/biden/1.jpg",
           "eileen_collins": "faces/nasa_astronaut/1.png", "grace_hopper": "faces/grace_hopper/1.jpg"}
PROBES = ["faces/obama/2.jpg", "faces/obama/3.jpg"]


def timings_ms(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return times


def largest_face(frame):
    return detect_faces(to_image([frame]), max_faces=1).frames[0]


def bench_embedding() -> list[str]:
    embedder = load_embedder("dlib_resnet_v1")
    rows = []
    for rel in [*GALLERY.values(), *PROBES]:
        frame = ops.load_image_file(TESTDATA / rel)
        faces = largest_face(frame)
        ms = statistics.median(timings_ms(lambda: embedder(frame, faces), 5))
        rows.append(f"| {rel} | {faces[0].width:.0f} | {ms:.0f} |")
    return rows


def bench_threshold() -> list[str]:
    """Normalised euclidean distances of same-person and different-person pairs of test photos."""
    embedder = load_embedder("dlib_resnet_v1")
    people = {rel: rel.split("/")[1] for rel in [*GALLERY.values(), *PROBES]}
    emb = {}
    for rel in people:
        frame = ops.load_image_file(TESTDATA / rel)
        emb[rel] = embedder(frame, largest_face(frame))[0][0]
    same, other = [], []
    for i, a in enumerate(people):
        for b in list(people)[i + 1:]:
            (same if people[a] == people[b] else other).append(
                float(distances(emb[a], emb[b], "euclidean")[0, 0]))
    return [f"| same person ({len(same)} pairs) | {min(same):.3f} | {max(same):.3f} |",
            f"| different people ({len(other)} pairs) | {min(other):.3f} | {max(other):.3f} |",
            f"| default threshold (dlib's 0.6 / typical norm) | "
            f"{default_threshold('dlib_resnet_v1', 'euclidean'):.3f} | |"]


def bench_search() -> list[str]:
    rng = np.random.default_rng(0)
    rows = []
    for n in (1_000, 10_000, 100_000):
        gallery = Gallery("synthetic", tuple(f"id{i:06d}" for i in range(n)),
                          normalize(rng.normal(size=(n, 128))), np.ones(n), ("",) * n)
        one, batch = normalize(rng.normal(size=(1, 128))), normalize(rng.normal(size=(16, 128)))
        cells = []
        for probes in (one, batch):
            times = timings_ms(lambda: gallery.search(probes, 0.43, k=5, metric="euclidean"), 41)
            cells.append(f"{statistics.median(times):.2f} / {min(times):.2f}")
        rows.append(f"| {n:,} | {' | '.join(cells)} |")
    return rows


def degrade(frame, face_width, target, noisy, rng):
    scale = target / face_width
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if noisy:
        small = np.clip(small + rng.normal(0, 8, small.shape), 0, 255).astype(np.uint8)
        _, jpeg = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 30])
        small = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    canvas = np.full((max(128, small.shape[0]), max(128, small.shape[1]), 3), 128, np.uint8)
    canvas[:small.shape[0], :small.shape[1]] = small
    return canvas


def bench_tiny_probes() -> tuple[list[str], float]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, rel in GALLERY.items():
            (pathlib.Path(tmp) / name).mkdir()
            shutil.copy(TESTDATA / rel, pathlib.Path(tmp) / name)
        start = time.perf_counter()
        gallery, _ = ops.gallery_from_folder(pathlib.Path(tmp), widths=ops.GALLERY_WIDTHS)
        build_s = time.perf_counter() - start
    rows = []
    for rel in PROBES:
        frame = ops.load_image_file(TESTDATA / rel)
        width = largest_face(frame)[0].width
        for target in (48, 32, 24, 20, 16):
            for noisy in (False, True):
                image = to_image([degrade(frame, width, target, noisy, rng)])
                faces = detect_faces(image, max_faces=1)
                if not faces.count:
                    rows.append(f"| {rel} | {target} | {'noisy' if noisy else 'clean'} | "
                                "not detected | |")
                    continue
                faces, _ = ops.embed_faces(image, faces)
                cells = []
                for multiscale in (False, True):
                    (hit,) = ops.search(faces, gallery, k=len(GALLERY), multiscale=multiscale)
                    best = hit.result.matches[0]
                    true = next(m.distance for m in hit.result.matches if m.name == "obama")
                    cells.append(f"{hit.result.identity} (top-1 {best.name}, obama {true:.3f})")
                rows.append(f"| {rel} | {target} | {'noisy' if noisy else 'clean'} | "
                            f"{cells[0]} | {cells[1]} |")
    return rows, build_s


def main():
    embed_rows = bench_embedding()
    threshold_rows = bench_threshold()
    search_rows = bench_search()
    tiny_rows, build_s = bench_tiny_probes()
    lines = [
        "# Identity benchmark",
        "",
        f"`python bench/bench_identity.py` on {cpu_description()}, {platform.python_version()}, "
        "CPU only; medians of runs (machines here are noisy, +-30-50%).",
        "",
        "## Embedding (dlib_resnet_v1: 5-point shape predictor + chip + ResNet), per face",
        "| photo | face width (px) | ms |", "|---|---|---|", *embed_rows,
        "",
        "## Verification distances on the test photos (normalised euclidean)",
        "| pairs | min | max |", "|---|---|---|", *threshold_rows,
        "",
        "## 1:N search (one matrix product + top-k), synthetic unit 128-d entries, k = 5",
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other jobs share the machine; the minimum shows the uncontended cost).",
        "| entries | 1 probe: median / min (ms) | 16 probes: median / min (ms) |", "|---|---|---|",
        *search_rows,
        "",
        "## Tiny probes: another photo of obama shrunk to a face width, gallery of 4 identities",
        f"Gallery built from one photo each, also embedded at {list(ops.GALLERY_WIDTHS)} px "
        f"({build_s:.1f} s for 4 photos). Distances are normalised euclidean; threshold 0.43.",
        "| probe | face width (px) | degradation | full-resolution entries | multiscale |",
        "|---|---|---|---|---|", *tiny_rows,
        "",
        "Reading: comparing a small probe with the gallery layers around its own width lowers the "
        "true identity's distance by up to 0.1 below ~24 px and keeps the top-1 right more often; "
        "the multiscale column also holds each probe to its width's calibrated limit "
        "(models/embedders.py LAYER_THRESHOLDS), stricter than 0.43, so noisy tiny probes come back "
        "'unknown' with the right top-1 instead of a name: at 16-20 px with noise + JPEG the true "
        "distance overlaps impostors. Layers blend into full resolution up to 96 px. The full "
        "low-resolution chain (denoise, fusion) is measured in results_surveillance.md.",
    ]
    out = pathlib.Path(__file__).with_name("results_identity.md")
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
