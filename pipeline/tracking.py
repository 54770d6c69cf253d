"""Face tracking over video frames (IMAGE batches): landmark tracking, smoothing, filling.

:func:`track_faces` is MediaPipe's video pipeline: once a face is found, the next frame's
face-mesh crop comes from the previous frame's landmarks (shifted by the face's velocity), so the
per-frame cost is the landmark model; the detector runs again every ``detect_every`` frames, at
a scene cut, when a tracked face's mesh confidence drops, or while no face is tracked.  Every
face then goes through :class:`vision.tracking.FaceTracker` (track ids, One-Euro smoothing,
filling of short losses).  :func:`track_face_set` does the tracker part alone on FACES found
frame by frame (Detect Faces -> Face Landmarks, or any other source of FACES).

Both are causal and return a :class:`TrackingState`: feeding a long clip chunk by chunk with the
state of the previous chunk gives the same faces as one call on the whole clip (with
``fill="extrapolate"``; with ``"interpolate"`` a gap that straddles two chunks is extrapolated).
Across separate ComfyUI queue runs (a long video loaded chunk by chunk), :func:`carried_state`
and :func:`remember_run` keep each node's last state, keyed by the node's id.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..models.landmarkers import load_landmarker
from ..vision import tracking
from ..vision.detection import PRESENCE_THRESHOLD, iou
from ..vision.face import Face, FaceSet
from ..vision.image import check_image, frame_uint8
from ..vision.landmarks import MESH_ROI_SCALE, mesh_roi_from_landmarks
from .faces import DEFAULT_DETECTOR, DEFAULT_LANDMARKER, Loop, check_faces, detect_faces

FILLS = ["interpolate", "extrapolate"]
"""interpolate: a lost frame between two sightings is interpolated (offline batches);
extrapolate: carried on from the last frames (streaming; the only choice at a batch's end)."""


@dataclass
class TrackingState:
    """What carries over from one chunk of a video to the next."""

    tracker: tracking.FaceTracker
    signature: Optional[np.ndarray] = None
    since_detect: int = 1 << 30
    routine: int = 0   # routine detections so far (every FULL_SCAN_EVERY-th is a full scan)


def new_state(options: Optional[tracking.TrackerOptions] = None) -> TrackingState:
    return TrackingState(tracking.FaceTracker(options))


def _roi_face(center: np.ndarray, size: float, angle: float, track_id: int) -> Face:
    """A stand-in detection whose face-mesh crop is the rect ``(center, size, angle)``
    (see :func:`vision.landmarks.mesh_roi_from_face`), to run the landmarker on it."""
    half = size / MESH_ROI_SCALE / 2
    box = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half])
    eye_line = np.array([np.cos(angle), np.sin(angle)])
    keypoints = np.stack([center, center + eye_line, center, center, center])
    return Face(box=box.astype(np.float32), score=1.0, keypoints=keypoints.astype(np.float32),
                track_id=track_id)


def _mesh_box(face: Face) -> Face:
    """``face`` with its box set to the bounding box of its 468 mesh points, so tracked and
    freshly detected faces have boxes of the same kind."""
    points = face.landmarks[:468, :2]
    return face.with_(box=np.concatenate([points.min(0), points.max(0)]))


def _follow(landmarker, image: torch.Tensor, index: int, tracks: list[tracking.Track]) -> list[Face]:
    """Landmarks of each tracked face in frame ``index``, from a crop placed by its previous
    landmarks moved by its velocity; faces with confidence < 0.5 are left out (lost).  A lost
    face is found again by the detector (a mesh re-grown from a stale crop can lock onto
    part of the face).  Only the part of the frame around the crops is converted to uint8
    (a 1080p frame costs more to convert than the landmark model takes)."""
    if not tracks:
        return []
    rois = []
    for track in tracks:
        center, size, angle = mesh_roi_from_landmarks(track.observed.landmarks)
        rois.append(_roi_face(center + track.velocity, size, angle, track.id))
    height, width = int(image.shape[1]), int(image.shape[2])
    reach = np.array([[*(f.center - 0.75 * f.width * MESH_ROI_SCALE),
                       *(f.center + 0.75 * f.width * MESH_ROI_SCALE)] for f in rois])
    x0, y0 = (max(0, int(np.floor(v))) for v in reach[:, :2].min(0))
    x1, y1 = min(width, int(np.ceil(reach[:, 2].max()))), min(height, int(np.ceil(reach[:, 3].max())))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    offset = np.array([x0, y0], np.float32)
    region = frame_uint8(image[index:index + 1, y0:y1, x0:x1], 0)
    found = landmarker(region, tuple(tracking.shift_face(f, -offset) for f in rois))
    return [_mesh_box(tracking.shift_face(f, offset)) for f in found
            if f.landmark_score >= PRESENCE_THRESHOLD]


def _signature(image: torch.Tensor, index: int) -> np.ndarray:
    """:func:`vision.tracking.frame_signature` of frame ``index`` from a strided view (cheap)."""
    step = max(1, min(int(image.shape[1]), int(image.shape[2])) // 128)
    return tracking.frame_signature(frame_uint8(image[index:index + 1, ::step, ::step], 0))


REANCHOR_ERROR = 0.1
"""Mean distance (in IOD) between a followed mesh and the mesh grown from a fresh detection of
the same face above which the detection's replaces it (a followed mesh can drift onto part of
the face after a blur or an occlusion)."""


def _reanchor(followed: list[Face], fresh: list[Face]) -> list[Face]:
    """Merge meshes grown from detections into the followed ones: a new face is added, a
    followed face that disagrees with its detection's mesh is replaced (keeping its track)."""
    followed = list(followed)
    for face in fresh:
        overlap = iou(face.box, np.stack([f.box for f in followed])) if followed else np.zeros(0)
        if not overlap.size or overlap.max() < 0.3:
            followed.append(face)
            continue
        k = int(overlap.argmax())
        old = followed[k]
        error = np.linalg.norm(old.landmarks[:468, :2] - face.landmarks[:468, :2], axis=1).mean()
        if error > REANCHOR_ERROR * tracking.inter_ocular(old):
            followed[k] = face.with_(track_id=old.track_id)
    return followed


REDETECT_SCORE = 0.8
"""A followed face whose landmark confidence (mesh presence) falls below this makes the
detector run on that frame (its mesh is then re-anchored when the detection's disagrees);
below ``PRESENCE_THRESHOLD`` the face counts as lost."""
FULL_SCAN_EVERY = 3
"""Routine detections (every ``detect_every`` frames while every tracked face is fine) look
for new faces with the detector's whole-frame pass only (``scan="whole_frame"``: faces wider
than about 1/8 of the frame, ~10 ms at 720p), and every this many of them with its full scan
(``scan="auto"``, also small faces, ~180 ms at 720p).  Detections for a reason (no face
tracked, a cut, a face lost or unsure) always scan fully."""


def _check_fill(fill: str) -> None:
    if fill not in FILLS:
        raise ValueError(f"fill {fill!r}: choose one of {FILLS}")


def _filled(frames: list, fill: str) -> list:
    return tracking.interpolate_gaps(frames) if fill == "interpolate" else frames


def track_faces(image: torch.Tensor, *, state: Optional[TrackingState] = None,
                options: Optional[tracking.TrackerOptions] = None, detect_every: int = 10,
                detector: str = DEFAULT_DETECTOR, threshold: float = 0.5, max_faces: int = 0,
                fill: str = "interpolate", device: str = "auto",
                loop: Loop = range) -> tuple[FaceSet, TrackingState]:
    """Tracked faces with 478 landmarks in every frame of an IMAGE ``[B, H, W, C]``.

    Args:
        state: from the previous chunk of the same video (None: a new video); ``options`` is
            only used for a new state.
        detect_every: run the detector at least every this many frames (1: every frame) to
            pick up new faces (the whole-frame pass; every :data:`FULL_SCAN_EVERY`-th time
            its full small-face scan); it also runs, with the full scan, at cuts, on a lost
            face, when a face's landmark confidence drops below :data:`REDETECT_SCORE` and
            while none is tracked.
        detector, threshold: the detector and its confidence threshold (Detect Faces').
        max_faces: track at most this many faces (0: all), the largest first.
        fill: how frames where a tracked face is briefly lost are filled, see :data:`FILLS`.
    Returns the FACES (with ``track_id``, ``filled``) and the state to pass to the next chunk.
    """
    check_image(image)
    _check_fill(fill)
    state = state or new_state(options)
    landmarker = load_landmarker(DEFAULT_LANDMARKER, device)
    size = (int(image.shape[1]), int(image.shape[2]))
    frames = []
    for i in loop(image.shape[0]):
        signature = _signature(image, i)
        if tracking.is_cut(state.signature, signature):
            state.tracker.end_all()
        state.signature = signature
        live = [t for t in state.tracker.tracks
                if t.missed == 0 and t.observed.landmarks is not None]
        followed = _follow(landmarker, image, i, live)
        state.since_detect += 1
        trouble = (len(followed) < len(state.tracker.tracks) or not followed
                   or any(f.landmark_score < REDETECT_SCORE for f in followed))
        if trouble or state.since_detect >= detect_every:
            state.since_detect = 0
            full = trouble or state.routine % FULL_SCAN_EVERY == FULL_SCAN_EVERY - 1
            state.routine += 0 if trouble else 1   # (the first detection scanned fully)
            found = detect_faces(image[i:i + 1], detector, threshold=threshold, device=device,
                                 scan="auto" if full else "whole_frame")
            if found.frames[0]:
                fresh = landmarker(frame_uint8(image, i), found.frames[0])
                followed = _reanchor(followed, [_mesh_box(f) for f in fresh])
        followed = sorted(followed, key=lambda f: -f.area)[:max_faces or None]
        frames.append(state.tracker.update(followed))
    return FaceSet(_filled(frames, fill), [size] * len(frames)), state


def track_face_set(faces: FaceSet, image: Optional[torch.Tensor] = None, *,
                   state: Optional[TrackingState] = None,
                   options: Optional[tracking.TrackerOptions] = None, max_faces: int = 0,
                   fill: str = "interpolate", loop: Loop = range) -> tuple[FaceSet, TrackingState]:
    """Track ids, smoothing and filled frames for FACES found frame by frame.

    ``image`` (the frames the faces were found on) is optional: with it, scene cuts end every
    track (no smoothing across a cut).  Other arguments as :func:`track_faces`.
    """
    if image is not None:
        check_faces(image, faces)
    _check_fill(fill)
    state = state or new_state(options)
    frames = []
    for i in loop(len(faces)):
        if image is not None:
            signature = _signature(image, i)
            if tracking.is_cut(state.signature, signature):
                state.tracker.end_all()
            state.signature = signature
        found = sorted(faces.frames[i], key=lambda f: -f.area)[:max_faces or None]
        frames.append(state.tracker.update([f.with_(track_id=None) for f in found]))
    return FaceSet(_filled(frames, fill), faces.image_sizes), state


@dataclass
class _Run:
    """One node's last run: frame size, settings, its first frame's signature, the state it
    started from (None: afresh) and the state it ended with."""

    size: tuple[int, int]
    settings: tuple
    first: np.ndarray
    before: Optional[TrackingState]
    after: TrackingState


_RUNS: "OrderedDict[str, _Run]" = OrderedDict()
MAX_REMEMBERED = 16
"""Nodes whose last run is remembered (the oldest is forgotten first)."""


def carried_state(key: str, image: torch.Tensor, settings: tuple) -> Optional[TrackingState]:
    """The state to continue the previous run of node ``key`` with on the IMAGE ``image``, or
    None to start afresh.

    The previous run's final state carries over when ``image`` continues its video: the same
    frame size and ``settings`` (every input that changes tracking), and no scene cut between
    its last frame and this batch's first (:func:`vision.tracking.is_cut`; another video
    starts afresh, its track ids from 0).  When ``image`` starts with the same frame as the
    previous run (the same chunk queued again) that run's starting state is used again, so a
    re-run gives the same faces.  Returns a copy: the remembered states are never changed.
    """
    run = _RUNS.get(key)
    size = (int(image.shape[1]), int(image.shape[2]))
    if run is None or run.size != size or run.settings != settings:
        return None
    first = _signature(image, 0)
    if np.array_equal(first, run.first):
        return copy.deepcopy(run.before)
    if tracking.is_cut(run.after.signature, first):
        return None
    return copy.deepcopy(run.after)


def remember_run(key: str, image: torch.Tensor, settings: tuple,
                 before: Optional[TrackingState], after: TrackingState) -> None:
    """Keep node ``key``'s run on ``image`` for :func:`carried_state`: the state it started
    from (``before``, as :func:`carried_state` gave it) and the one it ended with."""
    _RUNS[key] = _Run((int(image.shape[1]), int(image.shape[2])), settings,
                      _signature(image, 0), copy.deepcopy(before), copy.deepcopy(after))
    _RUNS.move_to_end(key)
    while len(_RUNS) > MAX_REMEMBERED:
        _RUNS.popitem(last=False)


def tracking_report(faces: FaceSet) -> str:
    """Tracks seen (id: frames) and the frames where a lost face was filled in."""
    seen: dict[int, list[int]] = {}
    for i, _, face in faces.items():
        seen.setdefault(face.track_id, []).append(i)
    lines = [f"track {t}: frames {v[0]}-{v[-1]} ({len(v)} frames)" for t, v in sorted(seen.items())]
    if not lines:
        return "no face found in any frame"
    filled = [i for i, fs in enumerate(faces.frames) if any(f.filled for f in fs)]
    lines.append("filled frames: " + (", ".join(_ranges(filled)) if filled else "none"))
    return "\n".join(lines)


def _ranges(frames: list[int]) -> list[str]:
    """``[3, 4, 5, 9]`` -> ``["3-5", "9"]``."""
    runs: list[list[int]] = []
    for i in frames:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [f"{a}-{b}" if b > a else str(a) for a, b in runs]
