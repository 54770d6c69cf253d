"""Make ``workflows/inputs/astronaut_pan.mp4``: the astronaut portrait seen by a moving camera
(pan, tilt, zoom; 32 frames, 16 fps, 384x288, H.264) with a quiet 440 Hz tone as its audio, so
the video workflows show that frame rate and audio are kept; and ``greenscreen_pan.mp4``: the
Unity green-screen still (Apache-2.0) seen the same way (24 frames, 12 fps, 480x320), for the
green-screen video workflow.  Same camera model as the tests' synthetic clips
(tests/video_clips.py).

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


def make_clip(name: str, target: str, center, frames: int, fps: int, size, scale: float,
              amplitude: float, angle: float) -> None:
    import video_clips as clips
    from face_pipeline.runner.core_video import Video, VideoComponents

    image = clips.portrait(name)
    path = clips.smooth_path(frames, amplitude=amplitude, angle=angle, zoom=0.15, scale=scale)
    mats = [clips.camera(center, s, a, z, size) for s, a, z in path]
    pixels = clips.render(image, mats, size, noise=3, seed=7)
    t = np.arange(int(RATE * frames / fps)) / RATE
    tone = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio = {"waveform": torch.from_numpy(tone)[None, None], "sample_rate": RATE}
    images = torch.from_numpy(pixels.astype(np.float32) / 255)
    path = ROOT / "workflows" / "inputs" / target
    Video(components=VideoComponents(images, audio, Fraction(fps))).save_to(str(path))
    print(path.relative_to(ROOT), path.stat().st_size, "bytes")


def main():
    load_pack()
    make_clip("astronaut", "astronaut_pan.mp4", (225, 150), FRAMES, FPS, SIZE, 1.0, 40, 8)
    make_clip("greenscreen_unity", "greenscreen_pan.mp4", (520, 330), 24, 12, (480, 320), 0.5,
              40, 2)


if __name__ == "__main__":
    main()
