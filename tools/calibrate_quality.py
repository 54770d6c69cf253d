"""Measure the calibration set of :mod:`vision.quality` (prints the numbers its docstring quotes).

Calibration set: ``../shared/testdata/lowres`` (all made from ``faces/obama/1.jpg``).  The ranges
``SHARP_RANGE``, ``NOISE_RANGE`` and ``BLOCK_RANGE`` were fitted on these images: the sharpness
ramp runs from the x8 downscale's ``rho`` (no real detail left) to the sharp original's, the
blockiness ramp from clean photos' ``beta`` to JPEG quality 10's.  The tests
(tests/test_quality.py) assert on other photos (Biden 1, Obama 3) degraded the same way, never
on this set.

Usage: .venv/bin/python tools/calibrate_quality.py
"""
import pathlib
import sys

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.pipeline.faces import detect_faces  # noqa: E402
from face_pipeline.vision import quality  # noqa: E402
from face_pipeline.vision.image import to_image  # noqa: E402

CALIBRATION = ["hr_gt.png", "lr_x4_bicubic.png", "lr_x8_bicubic.png", "jpeg_q10.jpg",
               "mixed_blur2_x4_noise8_jpeg30.png", "obama_240p.jpg"]
LOWRES = ROOT.parent / "shared" / "testdata" / "lowres"


def main() -> None:
    for name in CALIBRATION:
        frame = np.ascontiguousarray(cv2.imread(str(LOWRES / name))[..., ::-1])
        face = detect_faces(to_image([frame]), max_faces=1).frames[0][0]
        matrix = quality.geometry.similarity_transform(face.keypoints, quality.CROP.points)
        rho = quality.sharpness_ratio(quality._normalised(frame, matrix))
        q = quality.face_quality(frame, face.keypoints, face.box)
        print(f"{name:34s} quality {q.quality:.2f}  rho {rho:.2f}  beta {q.block_ratio:.2f}  "
              f"sigma {q.noise_sigma:.1f}  face {face.width:.0f} px")
    print("ranges:", "SHARP", quality.SHARP_RANGE, "BLOCK", quality.BLOCK_RANGE,
          "NOISE", quality.NOISE_RANGE)


if __name__ == "__main__":
    main()
