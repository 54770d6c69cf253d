"""Apply each of issue 15's twelve named code changes (mutants) in turn and check that
tests/test_behaviour.py kills it (the file is restored after each run).

Usage: .venv/bin/python tools/check_named_mutants.py   (about a minute; not part of CI)
"""
import subprocess, sys, pathlib
R = pathlib.Path(__file__).resolve().parents[1]
M = [
 ("vision/blend.py", "    trust = detail_gate(quality)", "    trust = 1.0", "poor_source"),
 ("vision/blend.py", "+ [1.0 - float(target_light)]", "+ [1.0]", "target_light"),
 ("vision/blend.py", "    if sharpen > 0:", "    if False:", "sharpen"),
 ("pipeline/faces.py", "            m = edge if crop_masks is None else", "            m = edge if True else", "crop_mask"),
 ("pipeline/swap_geometry.py", "meshwarp.transfer_shape(own, face.landmarks, shape_transfer)", "meshwarp.transfer_shape(own, face.landmarks, 0.0)", "shape_transfer"),
 ("pipeline/swap.py", "            crop_mask = edge\n            if target.landmarks is not None:", "            crop_mask = edge\n            if False:", "oval"),
 ("pipeline/swap.py", "target_image, warped, mask, quality=source_quality,", "target_image, warped, mask, quality=1.0,", "measured_source_quality"),
 ("vision/color.py", "    gain = (tgt_std / np.maximum(src_std, 1e-3)).astype(np.float32)", "    gain = np.ones_like(tgt_std, np.float32)", "reinhard"),
 ("pipeline/swap_geometry.py", "warped = meshwarp.warp_face(source, mesh, shape, keep_eyes=keep_eyes,", "warped = meshwarp.warp_face(source, mesh, shape, keep_eyes=False,", "keep_target_eyes"),
 ("vision/gallery.py", "matches[0].distance <= limit", "matches[0].distance < limit", "exactly_at"),
 ("pipeline/identity.py", "if d <= limit}", "if d < limit}", "exactly_at"),
 ("vision/identity.py", "        w = np.ones(len(rows), np.float32) if weights is None else np.asarray(weights, np.float32)", "        w = np.ones(len(rows), np.float32)", "weighted"),
 ("vision/geometry.py", "        d[1] = -1", "        pass", "never_mirrors"),
]
survivors = 0
for f, old, new, test in M:
    p = R / f; s = p.read_text()
    assert s.count(old) == 1, (f, old)
    p.write_text(s.replace(old, new))
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "tests/test_behaviour.py", "-k", test], cwd=R, capture_output=True, text=True)
        killed = r.returncode == 1
        survivors += not killed
        print("KILLED " if killed else f"SURVIVED (rc {r.returncode})", f, new.strip()[:50])
    finally:
        p.write_text(s)
sys.exit(1 if survivors else 0)
