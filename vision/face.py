"""The FACES type: every face found in a batch of images, and what later nodes learn about it.

One :class:`FaceSet` flows through a graph (detect -> landmarks -> align -> ...) and gains fields,
so a face's box, landmarks, crop matrix and (later) embedding never get out of step.  Values are
immutable: a node returns a new set (``dataclasses.replace``) and never edits its input, because
ComfyUI caches node outputs and may hand the same value to several branches.

Coordinates are image pixels of the frame the face belongs to, origin at the top-left pixel's
corner, x to the right, y down.

Keypoint order (the insightface / ArcFace convention, named as seen in the image):
``0`` eye on the image's left (the subject's right eye), ``1`` eye on the image's right,
``2`` nose tip, ``3`` mouth corner on the image's left, ``4`` mouth corner on the image's right.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Optional

import numpy as np

NUM_LANDMARKS = 478
"""MediaPipe face mesh: 468 surface points followed by 5 + 5 iris points."""


@dataclass(frozen=True)
class Face:
    """One face in one frame.

    Attributes:
        box: ``[4]`` float32 ``x1, y1, x2, y2`` in pixels.
        score: detector confidence in ``0..1``.
        keypoints: ``[5, 2]`` float32 pixels, order in the module docstring.
        detector: id of the model that found the face.
        landmarks: ``[478, 3]`` float32 ``x, y, z`` in pixels (z: depth relative to the face
            centre, same scale as x, smaller is nearer the camera), or None before landmarking.
        landmark_score: face-mesh confidence in ``0..1``, or None.
        pose: ``[3]`` float32 ``yaw, pitch, roll`` in degrees (yaw > 0: the subject turns to
            the image's right; pitch > 0: looks down; roll > 0: head tilts clockwise in the
            image), or None.
        matrix: ``[2, 3]`` float32 affine map from frame pixels to aligned-crop pixels, or None.
        template: name of the alignment template the matrix maps to, or None.
        crop_size: ``(width, height)`` of the aligned crop, or None.
        embedding: ``[D]`` float32 L2-normalised identity embedding, or None.
        embedding_model: id of the model that made ``embedding`` (embeddings of different
            models are never compared), or None.
        quality: no-reference quality of the face in ``0..1`` (higher is sharper and
            larger), or None.
        track_id: id of the face's track across the frames of a video (the same person keeps
            the same id), or None when the faces were not tracked.
        filled: True when the tracker made this face up for a frame where the face was
            briefly lost (interpolated or extrapolated from the neighbouring frames).
        source_width: the face's width in pixels in the frames as captured, before any
            upscaling or enhancement (set by Face Embedding from its ``image`` input), or None
            (then :attr:`width` is the captured width).  Resolution-matched gallery search
            uses it, so an upscaled or enhanced probe is still compared as the small face it was.
        fusion_gate: None when ``embedding`` is of the captured face alone; else the weight
            ``g`` of the captured ("raw") face in a fused ``g * raw + (1 - g) * enhanced``
            embedding (0: enhanced face only).  Anything below 1 means enhanced pixels shaped
            the identity result.
        mesh: ``[468, 3]`` float32 face-mesh points that Detect Faces' verification placed
            from this box and keypoints (frame pixels, z not centred), or None; Face
            Landmarks finishes them instead of running the mesh again.  Cleared whenever the
            box or keypoints change.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    detector: str = ""
    landmarks: Optional[np.ndarray] = None
    landmark_score: Optional[float] = None
    pose: Optional[np.ndarray] = None
    matrix: Optional[np.ndarray] = None
    template: Optional[str] = None
    crop_size: Optional[tuple[int, int]] = None
    embedding: Optional[np.ndarray] = None
    embedding_model: Optional[str] = None
    quality: Optional[float] = None
    track_id: Optional[int] = None
    filled: bool = False
    source_width: Optional[float] = None
    fusion_gate: Optional[float] = None
    mesh: Optional[np.ndarray] = None

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def captured_width(self) -> float:
        """:attr:`source_width` when known, else :attr:`width`."""
        return self.width if self.source_width is None else float(self.source_width)

    @property
    def enhanced(self) -> bool:
        """Whether enhanced pixels went into the embedding (see :attr:`fusion_gate`)."""
        return self.fusion_gate is not None and self.fusion_gate < 1.0

    def scaled(self, sx: float, sy: float) -> "Face":
        """This face on a copy of its frame resized by ``sx`` horizontally, ``sy`` vertically
        (box, keypoints, landmarks and crop matrix follow; ``source_width`` is kept)."""
        changes = {"box": self.box * [sx, sy, sx, sy], "keypoints": self.keypoints * [sx, sy]}
        if self.landmarks is not None:
            changes["landmarks"] = self.landmarks * [sx, sy, sx]
        if self.matrix is not None:
            changes["matrix"] = self.matrix * [1.0 / sx, 1.0 / sy, 1.0]
        return self.with_(**changes)

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2],
                        dtype=np.float32)

    def with_(self, **changes) -> "Face":
        """A copy with some fields replaced (arrays are converted to float32).  A new box or
        new keypoints drop ``mesh`` (it was placed from the old ones) unless it is given."""
        if ("box" in changes or "keypoints" in changes) and "mesh" not in changes:
            changes["mesh"] = None
        for key in ("box", "keypoints", "landmarks", "pose", "matrix", "embedding", "mesh"):
            if changes.get(key) is not None:
                changes[key] = np.asarray(changes[key], dtype=np.float32)
        return replace(self, **changes)


@dataclass(frozen=True)
class FaceSet:
    """The FACES value: faces per frame of an IMAGE batch.

    Attributes:
        frames: one tuple of :class:`Face` per image of the batch (empty where none was found);
            ``len(frames)`` equals the batch size.
        image_sizes: ``(height, width)`` of each frame, same length as ``frames``.
    """

    frames: tuple[tuple[Face, ...], ...]
    image_sizes: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self):
        frames = tuple(tuple(f) for f in self.frames)
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "image_sizes", tuple(tuple(s) for s in self.image_sizes))
        if self.image_sizes and len(self.image_sizes) != len(frames):
            raise ValueError(f"FaceSet has {len(frames)} frames but {len(self.image_sizes)} sizes")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def count(self) -> int:
        """Total number of faces over all frames."""
        return sum(len(f) for f in self.frames)

    def items(self) -> Iterator[tuple[int, int, Face]]:
        """``(frame_index, face_index, face)`` for every face, frame-major."""
        for i, faces in enumerate(self.frames):
            for j, face in enumerate(faces):
                yield i, j, face

    def map_frames(self, fn) -> "FaceSet":
        """A new set with ``fn(frame_index, faces) -> faces`` applied to every frame."""
        return replace(self, frames=tuple(tuple(fn(i, f)) for i, f in enumerate(self.frames)))

    def resized(self, size: tuple[int, int]) -> "FaceSet":
        """These faces on copies of their frames resized to ``size`` ``(height, width)``
        (e.g. faces found on an upscaled copy, mapped back to the frames as captured)."""
        if not self.image_sizes:
            raise ValueError("these FACES do not record their frame size; they cannot be resized")
        frames = tuple(tuple(f.scaled(size[1] / w, size[0] / h) for f in faces)
                       for faces, (h, w) in zip(self.frames, self.image_sizes))
        return FaceSet(frames, [tuple(size)] * len(frames))

    def summary(self) -> str:
        """One line per frame, e.g. ``frame 0: 2 faces``."""
        return "\n".join(f"frame {i}: {len(f)} face{'s' if len(f) != 1 else ''}"
                         for i, f in enumerate(self.frames))
