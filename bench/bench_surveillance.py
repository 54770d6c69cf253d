"""Surveillance chain benchmark (not a test): accuracy against the bicubic baseline, time per
720p frame, gallery search with resolution layers.

Usage: python bench/bench_surveillance.py   (writes bench/results_surveillance.md)

Everything runs through the pack's nodes with the settings of
workflows/surveillance_identify_api.json (tests/surveillance.py).

- accuracy: probes of tests/surveillance.py (faces 16 / 20 / 28 px in 4w x 3w frames, noise
  sigma 10, JPEG 30; 6 probe photos of the 4 gallery people x 4 noise seeds), closed-set top-1
  and open-set "named correctly" for the bicubic baseline with a clean gallery (same run), the
  parts (raw only, enhanced only, clean gallery only) and the full chain; impostors: each probe
  photo searched in the gallery without its person (full resolution, and the chain at 20 px).
- detection: faces found and false faces on the same probes with Detect Faces' defaults, with
  the retry, and with the workflow's settings (verification on and off).
- per 720p frame: 1 / 5 / 20 faces 24 px wide pasted into a 1280 x 720 frame (noise + JPEG),
  timed per node: Detect Faces, Denoise, Upscale Frames (face regions), Face Embedding (raw +
  enhanced, gated), Search Face Gallery.
- search: synthetic unit 128-d galleries of 10k / 100k / 1M entries with 4 layers, 16 probes of
  20 px (two layers each) vs full-resolution probes.
"""
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from common import cpu_description  # noqa: E402
import surveillance as sv  # noqa: E402
from conftest import as_image  # noqa: E402  (loads the pack)

from face_pipeline.nodes.denoise import Denoise  # noqa: E402
from face_pipeline.nodes.faces import DetectFaces  # noqa: E402
from face_pipeline.nodes.identity import FaceEmbedding, SearchGallery  # noqa: E402
from face_pipeline.nodes.restore import UpscaleFrames  # noqa: E402
from face_pipeline.pipeline import faces as face_ops  # noqa: E402
from face_pipeline.pipeline import identity as id_ops  # noqa: E402
from face_pipeline.pipeline.restore import RETRY_PRESENCE_THRESHOLD  # noqa: E402
from face_pipeline.vision import identity  # noqa: E402
from face_pipeline.vision.gallery import Gallery  # noqa: E402

SEEDS = 4


def named(results, truth):
    return sum(r is not None and r["identity"] == t for r, t in zip(results, truth))


def bench_accuracy(gallery, people) -> list[str]:
    rows = []
    for width in (16, 20, 28):
        frames = [sv.degrade(p, box, width, seed=s) for p, box, _ in people for s in range(SEEDS)]
        truth = [name for _, _, name in people for _ in range(SEEDS)]
        probes = sv.detect_and_enhance(frames)
        embedded = {v: sv.embed(probes, v) for v in sv.VARIANTS if v != "clean_gallery"}
        res = {v: sv.identify(probes, embedded.get(v, embedded["full"]), gallery, v)
               for v in sv.VARIANTS}
        top = {v: sv.top1(r, truth) for v, r in res.items()}
        n = len(truth)
        found = sum(map(len, probes.faces.frames))
        rows.append(f"| {width} px | {found}/{n} | {top['bicubic']}/{n} "
                    f"({named(res['bicubic'], truth)}) | {top['raw']}/{n} | {top['enhanced']}/{n}"
                    f" | {top['clean_gallery']}/{n} | **{top['full']}/{n}** "
                    f"({named(res['full'], truth)}) | "
                    f"{100 * (top['full'] - top['bicubic']) / n:+.0f} |")
    return rows


def detection_settings() -> dict:
    """Detect Faces' settings per row of the detection table (node defaults, then changes)."""
    required = DetectFaces.INPUT_TYPES()["required"]
    defaults = {k: v[1]["default"] for k, v in required.items() if k != "image"}
    workflow = sv.settings("FacePipelineDetectFaces")
    retry = workflow["enhance_retry"]
    return {"node defaults": defaults,
            "node defaults + retry": dict(defaults, enhance_retry=retry),
            "workflow, verify off (the old setting)": dict(workflow, verify=False, max_faces=0),
            "workflow": dict(workflow, max_faces=0)}


def bench_detection(people) -> list[str]:
    """Faces found (a box centred within a quarter face width of the face) and false faces
    (any other box) on the accuracy probes, max_faces 0 (every face kept)."""
    rows = {name: [] for name in detection_settings()}
    for width in (16, 20, 28):
        frames = [sv.degrade(p, box, width, seed=s) for p, box, _ in people for s in range(SEEDS)]
        image = as_image(*frames)
        centre = np.array([2 * width, 1.5 * width])
        for name, kw in detection_settings().items():
            faces = DetectFaces().detect(image, **kw)[0]
            true = [any(np.abs(f.center - centre).max() <= width / 4 for f in fs)
                    for fs in faces.frames]
            false = sum(len(fs) for fs in faces.frames) - sum(true)
            rows[name].append(f"{sum(true)}/{len(frames)} ({false})")
    return [f"| {name} | {' | '.join(cells)} |" for name, cells in rows.items()]


def bench_impostors(gallery, people) -> list[str]:
    unknown = {"full resolution (node defaults)": [0, 0], "20 px (full chain)": [0, 0]}
    for photo, box, name in people:
        without = gallery.remove(name)
        image = as_image(photo)
        faces = sv.central_face(face_ops.detect_faces(image))
        res = sv.identify(sv.Probes(image, faces, None), id_ops.embed_faces(image, faces)[0],
                          without)
        unknown["full resolution (node defaults)"][0] += sv.unknown(res)
        unknown["full resolution (node defaults)"][1] += len(res)
        probes = sv.detect_and_enhance([sv.degrade(photo, box, 20, seed=s) for s in range(SEEDS)])
        res = sv.identify(probes, sv.embed(probes), without)
        unknown["20 px (full chain)"][0] += sv.unknown(res)
        unknown["20 px (full chain)"][1] += len(res)
    return [f"| {k} | {u}/{n} |" for k, (u, n) in unknown.items()]


def street_frame(people, count, width=24, seed=0):
    """1280 x 720 frame with ``count`` faces ``width`` px wide on a grey-blue background."""
    import cv2
    rng = np.random.default_rng(seed)
    frame = np.full((720, 1280, 3), (90, 100, 110), np.float32)
    frame += cv2.GaussianBlur(rng.normal(0, 30, frame.shape).astype(np.float32), (0, 0), 9)
    cols = 5 if count > 1 else 1
    for n in range(count):
        photo, box, _ = people[n % len(people)]
        patch = sv.degrade(photo, box, width, sigma=0, quality=100, frame_size=(3 * width, 3 * width))
        x, y = 80 + (n % cols) * 230, 60 + (n // cols) * 160
        frame[y:y + 3 * width, x:x + 3 * width] = patch
    frame = np.clip(frame + rng.normal(0, 10, frame.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 30])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def bench_frames(gallery, people) -> list[str]:
    """The workflow's nodes on one 720p frame, except Detect Faces keeps every face
    (max_faces 0) and Upscale Frames gets the faces."""
    rows = []
    embed = sv.settings("FacePipelineFaceEmbedding")
    for count in (1, 5, 20):
        image = as_image(street_frame(people, count))
        t = {}
        start = time.perf_counter()
        faces = DetectFaces().detect(image, **dict(sv.settings("FacePipelineDetectFaces"),
                                                   max_faces=0))[0]
        t["detect"] = time.perf_counter() - start
        start = time.perf_counter()
        clean = Denoise().denoise(image, **sv.settings("FacePipelineDenoise"))[0]
        t["denoise"] = time.perf_counter() - start
        start = time.perf_counter()
        enhanced = UpscaleFrames().upscale(clean, faces=faces,
                                           **sv.settings("FacePipelineUpscaleFrames"))[0]
        t["enhance"] = time.perf_counter() - start
        start = time.perf_counter()
        embedded = FaceEmbedding().embed(image, faces, embed["model"], embed["device"],
                                         enhanced_image=enhanced, fusion=embed["fusion"])[0]
        t["embed"] = time.perf_counter() - start
        start = time.perf_counter()
        SearchGallery().search(image, embedded, gallery, 3, "euclidean", 0.0, True)
        t["search"] = time.perf_counter() - start
        rows.append(f"| {count} | {faces.count} | {t['detect']:.2f} | {t['denoise']:.2f} | "
                    f"{t['enhance']:.2f} | {t['embed']:.2f} | {t['search']:.2f} | "
                    f"{sum(t.values()):.2f} |")
    return rows


def bench_search() -> list[str]:
    rng = np.random.default_rng(0)
    rows = []
    probes = identity.normalize(rng.normal(size=(16, 128)).astype(np.float32))
    for n in (10_000, 100_000, 1_000_000):
        emb = identity.normalize(rng.normal(size=(n, 128)).astype(np.float32))
        layers = identity.normalize(emb[None] + 0.3 * rng.normal(size=(4, n, 128)).astype(np.float32))
        names = tuple(f"p{i:07d}" for i in range(n))
        gallery = Gallery("dlib_resnet_v1", names, emb, np.ones(n, np.float32), names,
                          (16, 24, 32, 48), layers)
        del emb, layers
        limits = (0.3, 0.31, 0.33, 0.36)
        times = {}
        for label, widths in (("full", None), ("20 px", np.full(16, 20.0))):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                gallery.search(probes, 0.43, k=5, metric="euclidean", probe_widths=widths,
                               layer_thresholds=limits)
                runs.append(1000 * (time.perf_counter() - start))
            times[label] = statistics.median(runs)
        rows.append(f"| {n:,} | {times['full']:.1f} | {times['20 px']:.1f} | "
                    f"{gallery.scaled.nbytes / 2**20 + gallery.embeddings.nbytes / 2**20:.0f} |")
        del gallery
    return rows


def main():
    gallery = sv.gallery()
    people = sv.probe_photos()
    load = lambda: " / ".join(f"{v:.1f}" for v in os.getloadavg())
    start_load = load()
    accuracy = bench_accuracy(gallery, people)
    detection = bench_detection(people)
    impostors = bench_impostors(gallery, people)
    frames = bench_frames(gallery, people)
    search = bench_search()
    lines = ["# Surveillance identification benchmark", "",
             f"`python bench/bench_surveillance.py` on {cpu_description()}, Python "
             f"{platform.python_version()}, CPU only (2 shared cores; load {start_load} at the "
             f"start, {load()} at the end: timings +-50 %). Every stage runs through the "
             "pack's nodes with the settings of `workflows/surveillance_identify_api.json`.", "",
             "## Top-1 on degraded probes (noise sigma 10, JPEG 30), gallery of 4 identities",
             "6 probe photos x 4 noise seeds = 24 probes per size, of **4 identities**; 4 of the "
             "6 photos are other photos than the gallery's (Obama 1, 3, group Obama, group "
             "Biden), 2 are the gallery photo degraded (Grace Hopper, the astronaut). Chance is "
             "6/24. Closed-set top-1 (best candidate right); in brackets open-set (named right, "
             "not 'unknown'). Baseline: the same detections, frames x4 bicubic, embedded as "
             "they are, full-resolution gallery. raw / enhanced only: Face Embedding's fusion "
             "set to that face; clean gallery only: the gated embedding searched without the "
             "resolution layers.", "",
             "| face width | faces found | bicubic + clean gallery (baseline) | raw only | "
             "enhanced only | clean gallery only | full chain | points over baseline |",
             "|---|---|---|---|---|---|---|---|", *accuracy, "",
             "## Detection of the degraded probes: faces found (false faces)",
             "The same 24 frames per size, every face kept (max_faces 0). Retry: a frame "
             "without a face scoring 0.6 is searched again on a x4 enlargement "
             f"({sv.settings('FacePipelineDetectFaces')['enhance_retry']}), where faces under "
             "32 px need a face-presence score of only "
             f"{RETRY_PRESENCE_THRESHOLD} (`pipeline.restore.RETRY_PRESENCE_THRESHOLD`). "
             "The workflow: threshold 0.3, verify on, the retry.", "",
             "| Detect Faces settings | 16 px | 20 px | 28 px |", "|---|---|---|---|",
             *detection, "",
             "## Impostors (each probe photo searched in the gallery without its person)",
             "| probes | came back 'unknown' |", "|---|---|", *impostors, "",
             "## Per 720p frame (1280 x 720, faces 24 px, noise 10 + JPEG 30), seconds",
             "The workflow's nodes, except that Detect Faces keeps every face (max_faces 0). "
             "The enhancement retry does not apply to frames over 512 px; Upscale Frames runs "
             "the network on the face regions only.", "",
             "| faces placed | faces found | detect | denoise | enhance (x4, face regions) | "
             "embed raw + enhanced | search | total |", "|---|---|---|---|---|---|---|---|",
             *frames, "",
             "## Gallery search with 4 layers, 16 probes, k = 5 (ms, median of 3)",
             "| entries | full-resolution probes | 20 px probes (2 layers each) | "
             "gallery memory (MiB) |", "|---|---|---|---|", *search, ""]
    out = ROOT / "bench" / "results_surveillance.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
