"""Node that ranks sightings per person over frames and reports the best ones."""
from __future__ import annotations

from ..pipeline import surveillance as ops
from ..vision.identity import METRICS
from .identity import GROUP, THRESHOLD


class SurveillanceReport:
    DESCRIPTION = ("Over a batch of frames (video): score every face (size, sharpness, noise, "
                   "blockiness, pose), group faces into people by embedding, search each "
                   "person in the gallery, and list the best frames first - as text, JSON, "
                   "CSV and a contact sheet. Marks results that used enhanced pixels.")
    CATEGORY = GROUP
    FUNCTION = "report"
    RETURN_TYPES = ("STRING", "STRING", "STRING", "IMAGE")
    RETURN_NAMES = ("text", "json", "csv", "contact_sheet")
    OUTPUT_TOOLTIPS = ("Per person: identity, candidates, best frames; a provenance line.",
                       "Per person: best frames (score, quality, frontality, captured width, "
                       "box), gallery top-k, limit, enhanced flag.",
                       "One row per sighting, best first within each person.",
                       "One row per person: best sightings from the captured frames.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The frames as captured (tiles are cut from them)."}),
            "faces": ("FACES", {"tooltip": "Embedded faces (Face Embedding) of these frames."}),
            "top_k": ("INT", {"default": 3, "min": 1, "max": 100, "tooltip": "Gallery "
                      "candidates per person."}),
            "best_frames": ("INT", {"default": 4, "min": 1, "max": 32, "tooltip": "Best "
                            "sightings listed and shown per person."}),
            "metric": (METRICS, {"default": "euclidean", "tooltip": "Distance for the gallery "
                       "search; thresholds are in this metric."}),
            "threshold": THRESHOLD,
            "group_threshold": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 2.0, "step": 0.005,
                                "tooltip": "Largest cosine distance between two sightings of "
                                "one person; 0: the model's calibrated limit at each face's captured width "
                                "(dlib: 0.048-0.053 at 16-24 px, 0.093 from 96 px)."}),
        }, "optional": {
            "gallery": ("FACE_GALLERY", {"tooltip": "Known identities; without it, people are "
                        "only grouped and ranked."}),
        }}

    def report(self, image, faces, top_k, best_frames, metric, threshold, group_threshold,
               gallery=None):
        return ops.surveillance_report(image, faces, gallery, k=top_k, best=best_frames,
                                       metric=metric, threshold=threshold,
                                       group_threshold=group_threshold)
