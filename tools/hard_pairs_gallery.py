"""Build the hard-pairs gallery (docs/hard_pairs.jpg): swaps chosen to be hard, before and after.

Usage:
    python tools/hard_pairs_gallery.py                      # after: this checkout
    python tools/hard_pairs_gallery.py --pack OLD --column before --out before.npz
    python tools/hard_pairs_gallery.py --before before.npz  # compose with a 'before' column

Only the public-domain astronaut and Grace Hopper portraits and synthetic edits of them are
used (turned heads rendered with the mesh warp, a painted beard, hair strands, a hand-coloured
occluder, shifted skin tones, a 2x downscaled source); never the White House photos.
``--pack`` loads the pack from another checkout (e.g. the commit before the realism work) to
render the "before" column; options the old code lacks are left at its defaults.
"""
import argparse
import importlib.util
import inspect
import pathlib
import sys

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"
DOCS = ROOT / "docs"


def load_pack(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(
        "face_pipeline", path / "__init__.py", submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["face_pipeline"] = module
    spec.loader.exec_module(module)
    return module


def image(path):
    rgb = cv2.cvtColor(cv2.imread(str(TESTDATA / path)), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb.astype(np.float32) / 255)[None]


def turned(landmarks, yaw):
    a = np.radians(yaw)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    centre = landmarks.mean(0)
    return ((landmarks - centre) @ rot.T + centre).astype(np.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", type=pathlib.Path, default=ROOT)
    parser.add_argument("--column", default="after")
    parser.add_argument("--out", type=pathlib.Path, default=None)
    parser.add_argument("--before", type=pathlib.Path, default=None)
    args = parser.parse_args()
    load_pack(args.pack)
    from face_pipeline.pipeline import faces as ops
    from face_pipeline.pipeline.swap import face_swap
    from face_pipeline.vision import meshwarp as mw
    from face_pipeline.vision.regions import region_mask
    # the edits are made with this checkout's mesh warp whatever --pack is, so that both
    # columns swap the same inputs
    edits = np.load(args.out.with_suffix(".inputs.npz")) if args.out and args.out.with_suffix(
        ".inputs.npz").exists() else None

    def found(img):
        return ops.add_landmarks(img, ops.detect_faces(img))

    ast, hop = image("faces/nasa_astronaut/1.png"), image("faces/grace_hopper/1.jpg")
    ast_lm, hop_lm = (found(x).frames[0][0].landmarks for x in (ast, hop))

    def render(img, lm, yaw):
        frame = img[0].numpy().copy()
        warped = mw.warp_face(mw.prepare_source(frame, lm), turned(lm, yaw), frame.shape[:2],
                              keep_mouth=False)
        full, mask = frame.copy(), np.zeros(frame.shape[:2], np.float32)
        x0, y0, x1, y1 = warped.box
        full[y0:y1, x0:x1], mask[y0:y1, x0:x1] = warped.image, warped.mask
        soft = cv2.GaussianBlur(cv2.erode(mask, np.ones((5, 5))), (0, 0), 3)[..., None]
        return torch.from_numpy(frame * (1 - soft) + full * soft)[None]

    def lower_face(lm, shape):
        h = mw.face_height(lm)
        lower = region_mask(lm, shape, ["face"], forehead=0.0).copy()
        lower[:int(lm[2, 1] + 0.02 * h)] = 0
        return np.clip(lower - region_mask(lm, shape, ["lips", "mouth"], grow=0.015 * h), 0, 1)

    def beard(img, lm):
        frame = img[0].numpy().copy()
        noise = np.random.default_rng(3).normal(0, 0.05, frame.shape[:2]).astype(np.float32)
        hair = np.clip(np.array([0.22, 0.15, 0.1], np.float32)
                       + cv2.GaussianBlur(noise, (0, 0), 0.7)[..., None], 0, 1)
        alpha = cv2.GaussianBlur(lower_face(lm, frame.shape[:2]), (0, 0), 2)[..., None]
        return torch.from_numpy(frame * (1 - alpha) + hair * alpha)[None]

    def strands(img, lm):
        frame = img[0].numpy().copy()
        h, rng = mw.face_height(lm), np.random.default_rng(4)
        top, brow = lm[10, :2], lm[9, :2]
        for k in range(9):
            x = top[0] + (k - 4) * 0.06 * h + rng.normal(0, 0.01 * h)
            pts = np.array([[x + 0.05 * h * np.sin(t * 3 + k),
                             top[1] - 0.05 * h + t * (brow[1] - top[1] + 0.03 * h)]
                            for t in np.linspace(0, 1, 14)], np.int32)
            cv2.polylines(frame, [pts], False, (0.3, 0.2, 0.12), max(int(0.018 * h), 2),
                          cv2.LINE_AA)
        return torch.from_numpy(frame)[None]

    def hand(img, lm):
        frame = img[0].numpy().copy()
        h = mw.face_height(lm)
        blob = np.zeros(frame.shape[:2], np.uint8)
        centre = tuple(int(v) for v in (lm[205, :2] + lm[61, :2]) / 2)
        cv2.ellipse(blob, centre, (int(0.14 * h), int(0.08 * h)), 30, 0, 360, 1, -1)
        for k in range(4):   # fingers
            tip = (centre[0] + int((k - 1.5) * 0.05 * h), centre[1] - int(0.16 * h))
            cv2.line(blob, centre, tip, 1, max(int(0.04 * h), 2))
        shade = np.array([0.45, 0.29, 0.2], np.float32) * (
            0.9 + 0.1 * cv2.GaussianBlur(blob.astype(np.float32), (0, 0), 4))[..., None]
        frame[blob > 0] = shade[blob > 0]
        return torch.from_numpy(frame)[None]

    def tone(img, lm, shift):
        frame = img[0].numpy()
        lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
        skin = region_mask(lm, frame.shape[:2], ["skin"], grow=-3) > 0.5
        ref = np.median(lab[skin], 0)
        weight = np.clip(2 - np.linalg.norm(lab[..., 1:] - ref[1:], axis=-1) / 10, 0, 1)
        lab = lab + weight[..., None] * np.array(shift, np.float32)
        return torch.from_numpy(np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0, 1))[None]

    def lowres(img):
        frame = img[0].numpy()
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))[None]

    pairs = [  # (title, source, target, options)
        ("3/4 source (turned 40) -> frontal", lambda: render(ast, ast_lm, 40), lambda: hop, {}),
        ("3/4 source (turned -40) -> frontal", lambda: render(ast, ast_lm, -40), lambda: hop, {}),
        ("frontal -> turned target (40)", lambda: ast, lambda: render(hop, hop_lm, 40), {}),
        ("frontal -> turned target (-40)", lambda: hop, lambda: render(ast, ast_lm, -40), {}),
        ("clean-shaven -> bearded target", lambda: ast, lambda: beard(hop, hop_lm), {}),
        ("... keep_target_beard", lambda: ast, lambda: beard(hop, hop_lm), {"keep_beard": True}),
        ("bearded source -> clean-shaven", lambda: beard(hop, hop_lm), lambda: ast, {}),
        ("hair over the source's forehead", lambda: strands(ast, ast_lm), lambda: hop, {}),
        ("glasses on the source", lambda: hop, lambda: ast, {}),
        ("hand in front (keep_occluders)", lambda: ast, lambda: hand(hop, hop_lm),
         {"occlusion": True}),
        ("fair source -> darker target", lambda: ast, lambda: tone(hop, hop_lm, (-25, 4, 8)), {}),
        ("darker source -> fair target", lambda: tone(hop, hop_lm, (-25, 4, 8)), lambda: ast, {}),
        ("low-resolution source (x2 down)", lambda: lowres(ast), lambda: hop, {}),
    ]
    accepted = set(inspect.signature(face_swap).parameters)
    tiles, inputs = [], {}
    for k, (title, make_source, make_target, options) in enumerate(pairs):
        if edits is not None:
            source, target = (torch.from_numpy(edits[f"{k}_{w}"]) for w in ("s", "t"))
        else:
            source, target = make_source(), make_target()
        inputs[f"{k}_s"], inputs[f"{k}_t"] = source.numpy(), target.numpy()
        kwargs = {key: v for key, v in options.items() if key in accepted}
        if "watermark" in accepted:
            kwargs["watermark"] = False   # the published pictures show the swap itself
        out, mask, _ = face_swap(source, target, **kwargs)
        tiles.append((title, source[0].numpy(), target[0].numpy(), out[0].numpy(),
                      found(target).frames[0][0].landmarks))
        print(k, title, flush=True)
    if args.out:
        np.savez_compressed(args.out, **{str(k): t[3] for k, t in enumerate(tiles)})
        if edits is None:
            np.savez_compressed(args.out.with_suffix(".inputs.npz"), **inputs)
        return
    before = np.load(args.before) if args.before else None
    rows = []
    for k, (title, source, target, after, lm) in enumerate(tiles):
        x0, y0, x1, y1 = mw.face_box(lm, target.shape[:2])
        cx, cy, half = (x0 + x1) // 2, (y0 + y1) // 2, int(0.75 * max(x1 - x0, y1 - y0))

        def crop(frame, cx=cx, cy=cy, half=half):
            pad = cv2.copyMakeBorder(frame, half, half, half, half, cv2.BORDER_REPLICATE)
            return cv2.resize(pad[cy:cy + 2 * half, cx:cx + 2 * half], (200, 200),
                              interpolation=cv2.INTER_AREA)

        sl = found(torch.from_numpy(source)[None]).frames[0][0].landmarks
        sx0, sy0, sx1, sy1 = mw.face_box(sl, source.shape[:2])
        s_half = int(0.75 * max(sx1 - sx0, sy1 - sy0))
        cells = [crop(source, (sx0 + sx1) // 2, (sy0 + sy1) // 2, s_half), crop(target)]
        if before is not None:
            cells.append(crop(before[str(k)]))
        cells.append(crop(after))
        row = (np.hstack(cells) * 255).astype(np.uint8)[..., ::-1].copy()
        cv2.putText(row, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2)
        cv2.putText(row, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        rows.append(row)
    grid = np.vstack([np.hstack(rows[i:i + 2]) if i + 1 < len(rows) else
                      np.hstack([rows[i], np.zeros_like(rows[i])]) for i in range(0, len(rows), 2)])
    DOCS.mkdir(exist_ok=True)
    cv2.imwrite(str(DOCS / "hard_pairs.jpg"), grid, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(DOCS / "hard_pairs.jpg", grid.shape)


if __name__ == "__main__":
    main()
