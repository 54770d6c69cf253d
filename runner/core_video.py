"""Stand-ins for ComfyUI's core video nodes (comfy_extras/nodes_video.py, ComfyUI 0.3.64):
LoadVideo, GetVideoComponents, CreateVideo and SaveVideo, on PyAV as ComfyUI's own.

Node ids, input names, types and outputs match ComfyUI's, so a workflow using them runs unchanged
here and in ComfyUI.  VIDEO values are :class:`Video` objects with ComfyUI's VideoInput methods
``get_components()`` (IMAGE frames, AUDIO or None, frame rate) and ``save_to(path)`` (H.264 in
MP4, AAC audio).  AUDIO is ComfyUI's ``{"waveform": [1, channels, samples] float, "sample_rate"}``.
PyAV (``av``) is needed only when these nodes run; it is a dependency of ComfyUI itself.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np
import torch

from .core_nodes import FOLDERS, _save_path

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".gif")


@dataclass
class VideoComponents:
    images: torch.Tensor
    audio: Optional[dict]
    frame_rate: Fraction


class Video:
    """A video from a file (decoded on demand) or from components."""

    def __init__(self, path: Optional[str] = None, components: Optional[VideoComponents] = None):
        self.path, self.components = path, components

    def get_components(self) -> VideoComponents:
        if self.components is not None:
            return self.components
        import av

        with av.open(self.path) as container:
            stream = container.streams.video[0]
            frames = [torch.from_numpy(f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
            rate = Fraction(stream.average_rate) if stream.average_rate else Fraction(1)
            images = (torch.stack(frames).float() / 255.0 if frames
                      else torch.zeros(0, 3, 0, 0))
        with av.open(self.path) as container:
            audio = None
            if container.streams.audio:
                stream = container.streams.audio[0]
                chunks = [f.to_ndarray() for p in container.demux(stream) for f in p.decode()]
                if chunks:
                    data = np.concatenate(chunks, axis=1)  # [channels, samples], as ComfyUI
                    audio = {"waveform": torch.from_numpy(data.astype(np.float32)).unsqueeze(0),
                             "sample_rate": int(stream.sample_rate or 1)}
        return VideoComponents(images, audio, rate)

    def get_dimensions(self) -> tuple[int, int]:
        images = self.get_components().images
        return int(images.shape[2]), int(images.shape[1])

    def save_to(self, path: str) -> None:
        """H.264 (yuv420p) in MP4 at the frame rate, with the audio as AAC when present."""
        import av

        parts = self.get_components()
        rate = Fraction(round(float(parts.frame_rate) * 1000), 1000)
        with av.open(path, mode="w") as out:
            video = out.add_stream("h264", rate=rate)
            video.width, video.height = int(parts.images.shape[2]), int(parts.images.shape[1])
            video.pix_fmt = "yuv420p"
            audio_stream = None
            if parts.audio:
                audio_stream = out.add_stream("aac", rate=int(parts.audio["sample_rate"]))
            for frame in parts.images:
                pixels = (frame[..., :3] * 255).clamp(0, 255).byte().cpu().numpy()
                out.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            out.mux(video.encode(None))
            if audio_stream is not None:
                sr = int(parts.audio["sample_rate"])
                wave = parts.audio["waveform"][0]
                wave = wave[:, :math.ceil(sr / float(rate) * parts.images.shape[0])]
                layout = "mono" if wave.shape[0] == 1 else "stereo"
                frame = av.AudioFrame.from_ndarray(
                    wave.T.reshape(1, -1).float().numpy(), format="flt", layout=layout)
                frame.sample_rate, frame.pts = sr, 0
                out.mux(audio_stream.encode(frame))
                out.mux(audio_stream.encode(None))


def _video_files() -> list:
    folder = FOLDERS.input_dir
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in VIDEO_EXTENSIONS)


class LoadVideo:
    CATEGORY = "image/video"
    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"file": (_video_files(), {"video_upload": True})}}

    def execute(self, file):
        return (Video(os.path.join(FOLDERS.input_dir, file)),)

    @classmethod
    def VALIDATE_INPUTS(cls, file):
        if not os.path.isfile(os.path.join(FOLDERS.input_dir, file)):
            return "Invalid video file: {}".format(file)
        return True


class GetVideoComponents:
    CATEGORY = "image/video"
    RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT")
    RETURN_NAMES = ("images", "audio", "fps")
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"video": ("VIDEO", {"tooltip": "The video to extract components from."})}}

    def execute(self, video):
        parts = video.get_components()
        return parts.images, parts.audio, float(parts.frame_rate)


class CreateVideo:
    CATEGORY = "image/video"
    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE", {"tooltip": "The images to create a video from."}),
                             "fps": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 120.0, "step": 1.0})},
                "optional": {"audio": ("AUDIO", {"tooltip": "The audio to add to the video."})}}

    def execute(self, images, fps, audio=None):
        return (Video(components=VideoComponents(images, audio, Fraction(fps))),)


class SaveVideo:
    CATEGORY = "image/video"
    RETURN_TYPES = ()
    FUNCTION = "execute"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"video": ("VIDEO", {"tooltip": "The video to save."}),
                             "filename_prefix": ("STRING", {"default": "video/ComfyUI"}),
                             "format": (["auto", "mp4"], {"default": "auto"}),
                             "codec": (["auto", "h264"], {"default": "auto"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def execute(self, video, filename_prefix, format, codec, prompt=None, extra_pnginfo=None):
        folder, name, counter, subfolder = _save_path(filename_prefix, FOLDERS.output_dir)
        file = f"{name}_{counter:05}_.mp4"
        video.save_to(os.path.join(folder, file))
        return {"ui": {"images": [{"filename": file, "subfolder": subfolder, "type": "output"}],
                       "animated": (True,)}, "result": ()}


NODE_CLASS_MAPPINGS = {"LoadVideo": LoadVideo, "GetVideoComponents": GetVideoComponents,
                       "CreateVideo": CreateVideo, "SaveVideo": SaveVideo}
