"""Build the README's low-resolution source picture (docs/lowres_source_swap.jpg): the
astronaut shrunk so her face is 64 px wide (shown enlarged), Grace Hopper, and Face Swap with
``enhance_source`` off and auto (the bundled portraits in workflows/inputs).

Usage: python tools/readme_lowres_picture.py
"""
import cv2
import numpy as np
import torch
from readme_swap_picture import ROOT, cell, detect_faces, face_swap, head_box, load

SIZE = (300, 360)   # (width, height) of each panel
SOURCE_FACE = 64    # px


def main():
    source, target = load("astronaut.png"), load("grace_hopper.jpg")
    scale = SOURCE_FACE / detect_faces(source).frames[0][0].width
    rgb = source[0].numpy()
    small = torch.from_numpy(cv2.resize(rgb, None, fx=scale, fy=scale,
                                        interpolation=cv2.INTER_AREA)[None])
    aspect = SIZE[0] / SIZE[1]
    box = head_box(target, aspect)
    panels = [cell(small, head_box(small, aspect), SIZE), cell(target, box, SIZE)]
    for mode in ("off", "auto"):
        swapped = face_swap(small, target, enhance_source=mode)[0]
        panels.append(cell(swapped, box, SIZE))
    out = ROOT / "docs" / "lowres_source_swap.jpg"
    cv2.imwrite(str(out), np.concatenate(panels, 1), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(out)


if __name__ == "__main__":
    main()
