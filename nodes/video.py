"""Video nodes: face tracks with steady landmarks and no lost frames."""
from __future__ import annotations

import copy

from ..models.registry import model_ids
from ..pipeline import tracking as ops
from ..vision.tracking import TrackerOptions
from ._comfy import CATEGORY, frames
from .faces import DEVICE

_DEFAULTS = TrackerOptions()


class TrackFaces:
    DESCRIPTION = ("Follow faces through video frames: 478 landmarks per face, the same "
                   "track_id for the same person in every frame, landmarks smoothed over time "
                   "(strong when the head is still, light when it moves, never across a cut) "
                   "and frames where a face is briefly lost filled in. Without 'faces' it runs "
                   "MediaPipe-style landmark tracking (the detector only every few frames), "
                   "much faster than Detect Faces + Face Landmarks on every frame.")
    CATEGORY = CATEGORY + "/video"
    FUNCTION = "track"
    RETURN_TYPES = ("FACES", "STRING")
    RETURN_NAMES = ("faces", "report")
    OUTPUT_TOOLTIPS = ("Faces per frame with landmarks, track_id and filled flags; face "
                       "selections downstream (e.g. Face Swap's target_selection) work per track.",
                       "Each track's frames and the frames where a lost face was filled in.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Video frames in order (Get Video Components, "
                                    "or Load Video from VideoHelperSuite)."}),
                "detect_every": ("INT", {"default": 10, "min": 1, "max": 1000, "tooltip":
                                 "Run the detector at least every this many frames to find new "
                                 "faces (1: every frame): its quick whole-frame pass, and every "
                                 "third time its full scan that also finds small faces. It also "
                                 "runs, with the full scan, after a cut, when a face is lost or "
                                 "its landmark confidence drops, and while no face is tracked."}),
                "min_cutoff": ("FLOAT", {"default": _DEFAULTS.min_cutoff, "min": 0.001,
                               "max": 100.0, "step": 0.001, "tooltip": "One-Euro filter: "
                               "smoothing of a still head (cycles per frame; lower is steadier, "
                               "100 turns smoothing off)."}),
                "beta": ("FLOAT", {"default": _DEFAULTS.beta, "min": 0.0, "max": 1000.0,
                         "step": 0.1, "tooltip": "One-Euro filter: how fast smoothing lets go "
                         "when the head moves (higher: less lag, more jitter in motion)."}),
                "max_gap": ("INT", {"default": _DEFAULTS.max_gap, "min": 0, "max": 250,
                            "tooltip": "Fill up to this many frames where a tracked face is "
                            "lost (blur, occlusion); a longer loss ends the track."}),
                "fill": (ops.FILLS, {"default": "interpolate", "tooltip": "interpolate: "
                         "between the frames before and after the gap (whole clips); "
                         "extrapolate: from the frames before (streaming, chunked clips)."}),
                "max_faces": ("INT", {"default": 0, "min": 0, "max": 100, "tooltip": "Track at "
                              "most this many faces, largest first (0: all)."}),
                "detector": (model_ids("detect"), {"default": model_ids("detect")[0],
                             "tooltip": "Detector used to find faces (see Detect Faces)."}),
                "device": DEVICE,
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "Faces already found on every frame (Detect "
                          "Faces -> Face Landmarks): track and smooth these instead of running "
                          "the landmark tracker. Embedded faces (Face Embedding) also keep "
                          "their ids by identity."}),
                "continue_tracks": ("BOOLEAN", {"default": False, "tooltip": "Carry the tracks "
                                    "over from this node's previous run when these frames "
                                    "continue the same video (the next chunk of a long video "
                                    "queued run by run, e.g. with VideoHelperSuite's "
                                    "skip_first_frames): ids, smoothing and gap filling go on "
                                    "across the joint. Starts afresh when the frame size or a "
                                    "setting changes or the first frame is a scene cut from "
                                    "the previous run's last; the same chunk queued again "
                                    "gives the same faces. Use fill 'extrapolate' for exactly "
                                    "the result of one long batch."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def track(self, image, detect_every, min_cutoff, beta, max_gap, fill, max_faces, detector,
              device, faces=None, continue_tracks=False, unique_id=None):
        options = TrackerOptions(min_cutoff=min_cutoff, beta=beta, max_gap=max_gap)
        settings = (faces is None, detect_every, options, fill, max_faces, detector, device)
        key = f"{type(self).__name__}:{unique_id}"
        start = ops.carried_state(key, image, settings) if continue_tracks else None
        if faces is not None:
            tracked, state = ops.track_face_set(faces, image, state=copy.deepcopy(start),
                                                options=options, max_faces=max_faces,
                                                fill=fill, loop=frames)
        else:
            tracked, state = ops.track_faces(image, state=copy.deepcopy(start), options=options,
                                             detect_every=detect_every, detector=detector,
                                             max_faces=max_faces, fill=fill, device=device,
                                             loop=frames)
        if continue_tracks:
            ops.remember_run(key, image, settings, start, state)
        report = ops.tracking_report(tracked)
        if start is not None:
            report = "tracks continued from the previous run\n" + report
        return tracked, report
