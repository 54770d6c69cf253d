"""Make workflows/inputs/surveillance/frames.png: an animated PNG of 96 x 72 "CCTV" frames with
faces 16-28 px wide, Gaussian noise sigma 10 and JPEG 30 (tests/surveillance.py's degradation),
from public-domain testdata photos (Obama 1 and 3 and the group photo's Biden: other photos than
the gallery's; Grace Hopper: her gallery photo degraded).

Usage: python tools/make_surveillance_inputs.py
"""
import pathlib
import sys

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import as_image, load_rgb  # noqa: E402  (loads the pack)
from surveillance import degrade  # noqa: E402

from face_pipeline.pipeline import faces as face_ops  # noqa: E402

FRAMES = [  # (photo, face index left to right, face width px, noise seed)
    ("faces/obama/1.jpg", 0, 28, 0), ("faces/grace_hopper/1.jpg", 0, 16, 1),
    ("faces/obama/3.jpg", 0, 20, 2), ("group/two_people.jpg", 1, 24, 3),
    ("faces/grace_hopper/1.jpg", 0, 28, 4), ("faces/obama/1.jpg", 0, 16, 5),
    ("faces/grace_hopper/1.jpg", 0, 20, 6), ("group/two_people.jpg", 1, 18, 7),
]
SIZE = (96, 72)


def main():
    frames = []
    for path, index, width, seed in FRAMES:
        photo = load_rgb(path)
        box = face_ops.detect_faces(as_image(photo), order="left_to_right").frames[0][index].box
        frames.append(Image.fromarray(degrade(photo, box, width, seed=seed, frame_size=SIZE)))
    out = ROOT / "workflows" / "inputs" / "surveillance" / "frames.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=500, loop=0)
    print(out.relative_to(ROOT), len(frames), "frames")


if __name__ == "__main__":
    main()
