"""Annotation aid for bench/real: detector proposals to look at, and a check of finished annotations.

    python bench/real/propose.py IMAGE [-o DIR] [--frame N]     # numbered boxes + zoomed crops
    python bench/real/propose.py --check ANNOTATIONS.json --images DIR -o DIR

Why: annotators read the text off the frames themselves; the detector only proposes where
lines are, so a box is typed once and then checked on an overlay. Proposals are made at a
larger CRAFT input than the pipeline's so that small logos and scene text show up too.
No model reading is shown, so the annotations do not inherit kseg's mistakes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np


def load(path: Path, frame: int | None) -> np.ndarray:
    if frame is None:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"cannot read {path}")
        return img
    import av

    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == frame:
                return f.to_ndarray(format="bgr24")
    sys.exit(f"{path}: no frame {frame}")


def draw(img: np.ndarray, boxes, labels, colours=None) -> np.ndarray:
    out = img.copy()
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        c = colours[i] if colours else (0, 0, 255)
        x0, y0, x1, y1 = map(int, b)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), c, 2)
        cv2.putText(out, lab, (x0, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
        cv2.putText(out, lab, (x0, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, c, 1)
    return out


def crops(img: np.ndarray, boxes, out: Path, stem: str) -> None:
    h, w = img.shape[:2]
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        m = max(4, (y1 - y0) // 4)
        c = img[max(0, y0 - m):min(h, y1 + m), max(0, x0 - m):min(w, x1 + m)]
        s = max(1.0, 64 / max(1, c.shape[0]))
        c = cv2.resize(c, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(out / f"{stem}.box{i:02d}.png"), c)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image", nargs="?", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("/tmp/propose"))
    ap.add_argument("--frame", type=int, default=None, help="video: 0-based frame to take")
    ap.add_argument("--detect-height", type=int, default=720)
    ap.add_argument("--check", type=Path, help="annotation JSON to draw over its frames")
    ap.add_argument("--images", type=Path, help="with --check: folder extract.py wrote")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.check:
        ann = json.loads(a.check.read_text())
        col = {"caption": (0, 200, 0), "logo": (0, 0, 255), "bar": (255, 0, 0), "scene": (0, 200, 255)}
        for fr in ann["frames"]:
            p = a.images / ann["source"] / f"{fr['id']}.png"
            img = cv2.imread(str(p))
            if img is None:
                print(f"missing {p}")
                continue
            if img.shape[:2] != (fr["height"], fr["width"]):
                print(f"{fr['id']}: size {img.shape[1]}x{img.shape[0]} != annotated {fr['width']}x{fr['height']}")
            boxes = [ln["box"] for ln in fr["lines"]]
            out = draw(img, boxes, [f"{i}:{ln['kind'][0]}" for i, ln in enumerate(fr["lines"])],
                       [col.get(ln["kind"], (255, 255, 255)) for ln in fr["lines"]])
            cv2.imwrite(str(a.out / f"{ann['source']}.{fr['id']}.check.png"), out)
            crops(img, boxes, a.out, f"{ann['source']}.{fr['id']}")
        print(f"wrote overlays and crops to {a.out}")
        return
    from kseg.detect import Detector

    img = load(a.image, a.frame)
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    lines = Detector(detect_height=min(a.detect_height, img.shape[0])).detect(rgb)
    boxes = [ln.box for ln in lines]
    stem = a.image.stem + (f".f{a.frame}" if a.frame is not None else "")
    cv2.imwrite(str(a.out / f"{stem}.png"), img)
    cv2.imwrite(str(a.out / f"{stem}.proposals.png"), draw(img, boxes, [str(i) for i in range(len(boxes))]))
    crops(img, boxes, a.out, stem)
    print(json.dumps({"image": str(a.image), "frame": a.frame, "width": img.shape[1], "height": img.shape[0],
                      "boxes": [list(map(int, b)) for b in boxes]}))


if __name__ == "__main__":
    main()
