"""Make ``workflows/inputs/astronaut_pan.mp4``: the astronaut portrait seen by a moving camera
(pan, tilt, zoom; 32 frames, 16 fps, 384x288, H.264) with a quiet 440 Hz tone as its audio, so
the video workflows show that frame rate and audio are kept.  Same camera model as the tests'
synthetic clips (tests/video_clips.py).

Usage: python tools/make_video_clip.py
"""
import pathlib
import sys
from fractions import Fraction

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from run_workflow import load_pack  # noqa: E402

FRAMES, FPS, SIZE, RATE = 32, 16, (384, 288), 16000


def main():
    load_pack()
    import video_clips as clips
    from face_pipeline.runner.core_video import Video, VideoComponents

    image = clips.portrait("astronaut")
    path = clips.smooth_path(FRAMES, amplitude=40, angle=8, zoom=0.15, scale=1.0)
    mats = [clips.camera((225, 150), s, a, z, SIZE) for s, a, z in path]
    frames = clips.render(image, mats, SIZE, noise=3, seed=7)
    t = np.arange(int(RATE * FRAMES / FPS)) / RATE
    tone = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = {"waveform": torch.from_numpy(tone)[None, None], "sample_rate": RATE}
    images = torch.from_numpy(frames.astype(np.float32) / 255)
    target = ROOT / "workflows" / "inputs" / "astronaut_pan.mp4"
    Video(components=VideoComponents(images, audio, Fraction(FPS))).save_to(str(target))
    print(target.relative_to(ROOT), target.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
