#!/usr/bin/env python3
"""Record reference outputs of the REAL MediaPipe 0.10.14 for our tests (dev-time tool).

Run with a separate venv that has the mediapipe wheel (it is never a
dependency of the pack)::

    python3 -m venv /tmp/mpref
    /tmp/mpref/bin/pip install mediapipe==0.10.14 --no-deps
    /tmp/mpref/bin/pip install absl-py attrs flatbuffers "numpy<2" "protobuf<5" \\
        opencv-python-headless matplotlib
    /tmp/mpref/bin/python tools/mediapipe_reference.py \\
        --testdata /work/shared/testdata --out tests/data/mediapipe_reference.json

For every test image it stores (paths relative to the testdata dir):

* ``face_detection.short_range`` / ``full_range`` (model_selection 0 / 1,
  min_detection_confidence 0.5): per face ``score``, ``bbox`` = relative
  [xmin, ymin, width, height] and ``keypoints`` = 6 relative [x, y] in
  MediaPipe's order (right eye, left eye, nose tip, mouth centre, right ear
  tragion, left ear tragion -- the subject's right/left).
* ``face_mesh`` (static_image_mode, refine_landmarks=True, max_num_faces=5):
  per face 478 landmarks as a flat [x0, y0, z0, x1, ...] list in PIXELS
  (x * width, y * height, z * width), rounded to 0.01.  NOTE: with
  refine_landmarks=True MediaPipe runs face_landmark_with_attention.tflite,
  not face_landmark.tflite + iris_landmark.tflite.
* ``face_mesh_468`` (same, refine_landmarks=False): 468 landmarks from
  face_landmark.tflite -- exactly the mesh model the pack converts to ONNX.

With ``--selfie OUT.npz`` it instead stores ``mp.solutions.selfie_segmentation``
(model_selection 0, the square 256x256 model) masks of SELFIE_IMAGES, as uint8
(mask * 255) at a quarter of the image size, one array per image named by its
relative path with '/' and '.' replaced by '_' (``np.load(..., allow_pickle=False)``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import mediapipe as mp

IMAGE_GLOBS = ["faces/*/*.jpg", "faces/*/*.png", "group/two_people.jpg", "lowres/obama_240p.jpg"]
SELFIE_IMAGES = ["greenscreen/unity_sample.png", "greenscreen/unity_business_man.png",
                 "faces/nasa_astronaut/1.png", "faces/grace_hopper/1.jpg"]


def selfie_key(rel: str) -> str:
    return rel.replace("/", "_").replace(".", "_")


def selfie_masks(testdata: Path, out: Path) -> None:
    import numpy as np

    masks = {}
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for rel in SELFIE_IMAGES:
            image_rgb = cv2.cvtColor(cv2.imread(str(testdata / rel)), cv2.COLOR_BGR2RGB)
            mask = segmenter.process(image_rgb).segmentation_mask
            h, w = mask.shape
            small = cv2.resize(mask, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
            masks[selfie_key(rel)] = (np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8)
    np.savez_compressed(out, **masks)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


def detections(image_rgb, model_selection: int) -> list[dict]:
    with mp.solutions.face_detection.FaceDetection(model_selection=model_selection,
                                                   min_detection_confidence=0.5) as detector:
        result = detector.process(image_rgb)
    faces = []
    for det in result.detections or []:
        box = det.location_data.relative_bounding_box
        faces.append({
            "score": round(det.score[0], 4),
            "bbox": [round(v, 5) for v in (box.xmin, box.ymin, box.width, box.height)],
            "keypoints": [[round(k.x, 5), round(k.y, 5)] for k in det.location_data.relative_keypoints],
        })
    return faces


def mesh(image_rgb, refine: bool) -> list[list[float]]:
    h, w = image_rgb.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=refine,
                                         max_num_faces=5, min_detection_confidence=0.5) as face_mesh:
        result = face_mesh.process(image_rgb)
    faces = []
    for landmarks in result.multi_face_landmarks or []:
        flat = []
        for lm in landmarks.landmark:
            flat += [round(lm.x * w, 2), round(lm.y * h, 2), round(lm.z * w, 2)]
        faces.append(flat)
    return faces


def reference(path: Path) -> dict:
    image_rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    h, w = image_rgb.shape[:2]
    return {
        "size": [w, h],
        "face_detection": {"short_range": detections(image_rgb, 0), "full_range": detections(image_rgb, 1)},
        "face_mesh": mesh(image_rgb, refine=True),
        "face_mesh_468": mesh(image_rgb, refine=False),
    }


def dump(data: dict) -> str:
    """JSON with one line per face (leaf lists/dicts are written compactly)."""
    def compact(obj):
        return json.dumps(obj, separators=(",", ":"))

    lines = ["{"]
    lines.append(f' "meta": {compact(data["meta"])},')
    lines.append(' "images": {')
    items = list(data["images"].items())
    for n, (rel, ref) in enumerate(items):
        lines.append(f"  {compact(rel)}: {{")
        lines.append(f'   "size": {compact(ref["size"])},')
        lines.append('   "face_detection": {')
        for m, key in enumerate(("short_range", "full_range")):
            faces = ",\n     ".join(compact(f) for f in ref["face_detection"][key])
            end = "," if m == 0 else ""
            lines.append(f'    "{key}": [\n     {faces}\n    ]{end}' if faces else f'    "{key}": []{end}')
        lines.append("   },")
        for m, key in enumerate(("face_mesh", "face_mesh_468")):
            faces = ",\n    ".join(compact(f) for f in ref[key])
            end = "," if m == 0 else ""
            lines.append(f'   "{key}": [\n    {faces}\n   ]{end}' if faces else f'   "{key}": []{end}')
        lines.append("  }" + ("," if n < len(items) - 1 else ""))
    lines.append(" }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == json.loads(json.dumps(data))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--testdata", type=Path, default=Path("/work/shared/testdata"))
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "tests" / "data" / "mediapipe_reference.json")
    parser.add_argument("--selfie", type=Path, help="write selfie-segmentation masks here instead")
    args = parser.parse_args()
    if args.selfie:
        selfie_masks(args.testdata, args.selfie)
        return

    paths = sorted({p for pattern in IMAGE_GLOBS for p in args.testdata.glob(pattern)})
    data = {
        "meta": {
            "mediapipe": mp.__version__,
            "face_detection": "mp.solutions.face_detection, model_selection 0 (short_range) / 1 (full_range), "
                              "min_detection_confidence 0.5; bbox [xmin,ymin,w,h] and keypoints relative",
            "keypoint_order": ["right_eye", "left_eye", "nose_tip", "mouth_center",
                               "right_ear_tragion", "left_ear_tragion"],
            "face_mesh": "mp.solutions.face_mesh static_image_mode, max_num_faces 5; refine_landmarks True "
                         "(478, attention model) / False (face_mesh_468); flat [x,y,z,...] in pixels, z*width",
        },
        "images": {},
    }
    for path in paths:
        rel = path.relative_to(args.testdata).as_posix()
        data["images"][rel] = reference(path)
        ref = data["images"][rel]
        print(f"{rel}: {len(ref['face_detection']['short_range'])} short / "
              f"{len(ref['face_detection']['full_range'])} full detections, "
              f"{len(ref['face_mesh'])} meshes (478), {len(ref['face_mesh_468'])} meshes (468)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(data))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
