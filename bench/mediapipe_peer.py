"""MediaPipe 0.10.14 timing worker for bench_faces.py (runs in its own venv, never in the pack's).

``bench_faces.py`` creates the venv (``~/.cache/face_pipeline_bench/mediapipe-0.10.14``: the
wheel without its dependencies + absl-py attrs flatbuffers numpy<2 protobuf<5
opencv-python-headless matplotlib, as tools/mediapipe_reference.py documents) and starts this
script with the path of an ``.npz`` of uint8 RGB frames.  Protocol, one line each way:
``<task> <frame> <runs>`` -> JSON ``{"wall": [...], "cpu": [...]}``, seconds per call (wall
clock, and the process's CPU time: all of MediaPipe's threads), where task is ``detect_short``,
``detect_full`` (FaceDetection, model_selection 0 / 1), ``mesh478`` (FaceMesh in static-image
mode with refine_landmarks: detection + the attention mesh's 478 landmarks on every call) or
``mesh468`` (the same without refine_landmarks: detection + the plain 468-point face mesh, the
two networks the pack also runs).  ``count <frame>`` answers
how many faces each task finds.
"""
import json
import sys
import time

import mediapipe as mp
import numpy as np

frames = dict(np.load(sys.argv[1]))
solutions = {
    "detect_short": mp.solutions.face_detection.FaceDetection(model_selection=0,
                                                              min_detection_confidence=0.5),
    "detect_full": mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                             min_detection_confidence=0.5),
    "mesh478": mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True,
                                               max_num_faces=5, min_detection_confidence=0.5),
    "mesh468": mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=False,
                                               max_num_faces=5, min_detection_confidence=0.5),
}


def found(task, frame):
    result = solutions[task].process(frame)
    items = result.multi_face_landmarks if task.startswith("mesh") else result.detections
    return len(items or [])


print("ready", mp.__version__, flush=True)
for line in sys.stdin:
    words = line.split()
    if words[0] == "count":
        print(json.dumps({t: found(t, frames[words[1]]) for t in solutions}), flush=True)
        continue
    task, frame, runs = words[0], frames[words[1]], int(words[2])
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        solutions[task].process(frame)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)
