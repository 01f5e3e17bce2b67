"""``kseg eval``: text-SAM against the box baselines on a `kseg synth` dataset.

Metrics, as TextSeg / Hi-SAM report them: foreground IoU accumulated over the
dataset (sum of intersections / sum of unions), pixel F-score, and boundary
F-score (boundary pixels matched within 2 px). All on the caption footprint
(everything `segment` must erase). Prompts are the ground-truth ink boxes, so the
numbers measure segmentation, not detection.

Baselines on the same lines: the caption box itself (what box-based subtitle
removers erase) and Otsu inside the box. For the IoU head: fgIoU when the mask
is chosen by predicted IoU (as `segment` chooses: the decoder's IoU head, then the
mask scorer's IoUs of the refined outputs 1 and 2 where the model has one; and by the
decoder's head alone) vs by each fixed index and by an oracle that knows each
line's best output (the most any ranking could reach), and Spearman's rank
correlation between the decoder's predicted and true IoU.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..synth import list_frames, read_frame
from ..types import TextLine

BOUNDARY_TOL = 2


class Acc:
    """Accumulates intersections/unions and pixel/boundary matches."""

    def __init__(self):
        self.i = self.u = self.p = self.t = 0
        self.bp_hit = self.bp = self.bt_hit = self.bt = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.i += int((pred & gt).sum())
        self.u += int((pred | gt).sum())
        self.p += int(pred.sum())
        self.t += int(gt.sum())
        bp, bt = _boundary(pred), _boundary(gt)
        if bp.any() and bt.any():
            dt_gt = cv2.distanceTransform((~bt).astype(np.uint8), cv2.DIST_L2, 3)
            dt_pr = cv2.distanceTransform((~bp).astype(np.uint8), cv2.DIST_L2, 3)
            self.bp_hit += int((dt_gt[bp] <= BOUNDARY_TOL).sum())
            self.bt_hit += int((dt_pr[bt] <= BOUNDARY_TOL).sum())
        self.bp += int(bp.sum())
        self.bt += int(bt.sum())

    def row(self) -> dict[str, float]:
        prec = self.i / self.p if self.p else 0.0
        rec = self.i / self.t if self.t else 0.0
        bprec = self.bp_hit / self.bp if self.bp else 0.0
        brec = self.bt_hit / self.bt if self.bt else 0.0
        f = lambda a, b: 2 * a * b / (a + b) if a + b else 0.0
        # the pixel counts travel too, so scores of several sets pool exactly (sum both, divide)
        return {"fgIoU": self.i / self.u if self.u else 1.0, "F": f(prec, rec), "bF": f(bprec, brec),
                "intersection": self.i, "union": self.u}


def _boundary(m: np.ndarray) -> np.ndarray:
    k = np.ones((3, 3), np.uint8)
    m8 = m.astype(np.uint8)
    return (m8 - cv2.erode(m8, k)).astype(bool)


def _otsu_in_box(image: np.ndarray, box) -> np.ndarray:
    """Otsu on grey inside the box; the class that owns most of the box border is background."""
    x0, y0, x1, y1 = box
    g = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    out = np.zeros(image.shape[:2], bool)
    if g.size == 0:
        return out
    _, th = cv2.threshold(g, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    th = th.astype(bool)
    border = np.concatenate([th[0], th[-1], th[:, 0], th[:, -1]])
    if border.mean() > 0.5:
        th = ~th
    out[y0:y1, x0:x1] = th
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return float("nan")
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def line_truth(fr, i: int, box) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """Where line ``i`` of a synth frame is scored: (window, its footprint there, other lines' pixels).

    The window is the box grown by its height on every side (its own pixels, not the rest of
    the frame); other lines' pixels inside it belong to neither prediction nor truth.
    """
    H, W = fr.label.shape
    x0, y0, x1, y1 = box
    h = y1 - y0
    win = (slice(max(0, y0 - h), min(H, y1 + h)), slice(max(0, x0 - h), min(W, x1 + h)))
    others = (fr.line_ids[win] > 0) & (fr.line_ids[win] != i + 1)
    return win, (fr.line_ids[win] == i + 1) & (fr.label[win] >= 1) & ~others, others


def line_iu(mask: np.ndarray, truth) -> list[float]:
    """[intersection, union] of a whole-frame mask with a line's truth (:func:`line_truth`)."""
    win, gt, others = truth
    p = mask[win] & ~others
    return [float((p & gt).sum()), float((p | gt).sum())]


def fgiou_of_picks(iu: np.ndarray, pick) -> float:
    """Accumulated fgIoU of (lines, outputs, 2) intersections and unions with one output picked per line."""
    got = iu[np.arange(len(iu)), np.asarray(pick, int)]
    return float(got[:, 0].sum() / got[:, 1].sum()) if got[:, 1].sum() else 1.0


def oracle_fgiou(iu: np.ndarray) -> float:
    """The highest accumulated fgIoU any per-line choice of output reaches: (lines, outputs, 2).

    Not the per-line best IoU: a ratio of sums is maximised by Dinkelbach's iteration (pick
    each line's output maximising I - J*U for the current ratio J, recompute J, repeat),
    which reaches the exact optimum in a few rounds. So no ranking, and no fixed index, can
    score above it.
    """
    if len(iu) == 0 or iu[..., 1].sum() == 0:
        return 1.0
    j = 0.0
    for _ in range(100):
        new = fgiou_of_picks(iu, (iu[..., 0] - j * iu[..., 1]).argmax(axis=1))
        if new <= j + 1e-12:
            break
        j = new
    return float(j)


def bootstrap_ci(per_frame: np.ndarray, pick: int, against: int | None = None, n: int = 1000,
                 seed: int = 0) -> list[float]:
    """95% interval of the accumulated fgIoU of column ``pick`` (or of its lead over ``against``).

    ``per_frame`` is (frames, columns, 2): intersections and unions summed per frame. Frames,
    not lines, are resampled: lines of one frame share a background and fonts, so they are
    not independent draws. With 200 frames the interval is about +-0.01 wide, which is what
    a difference between two models has to clear before it means anything.
    """
    if len(per_frame) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per_frame), (n, len(per_frame)))
    sums = per_frame[idx].sum(axis=1)  # (n, columns, 2)
    iou = sums[..., 0] / np.maximum(sums[..., 1], 1)
    stat = iou[:, pick] - (iou[:, against] if against is not None else 0.0)
    return [float(v) for v in np.percentile(stat, [2.5, 97.5])]


def dataset_frames(data_dirs, limit: int | None = None) -> list[tuple[Path, str]]:
    """(folder, stem) of the first ``limit`` frames of each `kseg synth` folder, in order.
    A missing folder, or one with no frames, is an error: scoring nothing would print
    numbers that mean nothing."""
    out, seen = [], set()
    for d in [Path(d) for d in ([data_dirs] if isinstance(data_dirs, (str, Path)) else data_dirs)]:
        if d.resolve() in seen:  # a folder named twice would count its frames twice
            continue
        seen.add(d.resolve())
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such dataset folder")
        stems = list_frames(d)[:limit]
        if not stems:
            raise FileNotFoundError(f"{d}: no kseg synth frames in it (make one with kseg synth -o {d} --split eval)")
        out += [(d, s) for s in stems]
    return out


def evaluate_sam(data_dir, model: str | None = None, device: str = "cpu", limit: int | None = None,
                 progress=None, end_to_end: bool = False, refine: bool = True) -> dict:
    """Run the evaluation; returns {"rows": {method: {style: metrics}}, "iou_head": {...}, ...}.

    ``data_dir``: one `kseg synth` folder or several, pooled (``limit`` frames of each): every
    figure, intervals included, is then over all their frames, as if they were one set;
    200 frames leave about ±0.01 on a score, and pooling is how to narrow it.
    With ``end_to_end`` the CRAFT detector's boxes prompt SAM too, and the union of the
    masks is scored against the whole-frame footprint: what `kseg segment` delivers.
    """
    frames = dataset_frames(data_dir, limit)
    from ..segment import TextSegmenter

    seg = TextSegmenter(model, device, refine=refine)
    det = None
    e2e = Acc()
    if end_to_end:
        from ..detect import Detector

        det = Detector(device=device, profile="video")  # the figures in the cards use it
    accs: dict[str, dict[str, Acc]] = defaultdict(lambda: defaultdict(Acc))
    fixed = [defaultdict(Acc) for _ in range(3)]
    head_pick: list[int] = []  # the decoder's IoU head alone, before the mask scorer re-ranks
    pred_iou, true_iou = [], []
    per_frame = []  # (ranked, output 0, 1, 2) x (intersection, union) summed over each frame's lines
    lines_iu: list[list[tuple[int, int]]] = []  # every line's 3 outputs: (intersection, union)
    n_lines = 0
    t_model = 0.0
    for n, (folder, stem) in enumerate(frames):
        fr = read_frame(folder, stem)
        lines_meta = fr.meta["lines"]
        if det is not None:
            found = det.detect(fr.image)
            pred = np.zeros(fr.label.shape, bool)
            for lm in seg.segment(fr.image, found):
                pred |= lm.mask
            e2e.add(pred, fr.label >= 1)
        if not lines_meta:
            continue
        H, W = fr.label.shape
        lines = [TextLine(tuple(lm["box"]), [tuple(p) for p in lm["polygon"]], 1.0, lm["angle"]) for lm in lines_meta]
        t0 = time.perf_counter()
        per_line = seg.segment_all(fr.image, lines)
        t_model += time.perf_counter() - t0
        fsum = np.zeros((4, 2), np.int64)
        for i, (lm, (masks, ious, chosen)) in enumerate(zip(lines_meta, per_line)):
            style = lm["style"]["kind"]
            x0, y0, x1, y1 = lm["box"]
            win, g, others = line_truth(fr, i, lm["box"])
            box = np.zeros((H, W), bool)
            box[y0:y1, x0:x1] = True
            preds = {"text-sam": masks[chosen], "box": box, "otsu-in-box": _otsu_in_box(fr.image, lm["box"])}
            for name, pm in preds.items():
                p = pm[win] & ~others
                accs[name][style].add(p, g)
                accs[name]["all"].add(p, g)
            head_pick.append(int(seg.decoder_choice[i]))
            lines_iu.append([])
            for k in range(3):
                p = masks[k][win] & ~others
                fixed[k]["all"].add(p, g)
                inter = (p & g).sum()
                uni = (p | g).sum()
                pred_iou.append(ious[k])
                true_iou.append(inter / uni if uni else 1.0)
                lines_iu[-1].append((int(inter), int(uni)))
                fsum[1 + k] += (inter, uni)
                if k == chosen:
                    fsum[0] += (inter, uni)
            n_lines += 1
        per_frame.append(fsum)
        if progress:
            progress(n + 1, len(frames))
    rows = {name: {s: a.row() for s, a in sorted(d.items())} for name, d in accs.items()}
    pf = np.array(per_frame).reshape(-1, 4, 2)
    iu = np.array(lines_iu, np.float64).reshape(-1, 3, 2)
    best_fixed = int(np.argmax([fixed[k]["all"].row()["fgIoU"] for k in range(3)])) if n_lines else 0
    return {
        "dataset": " + ".join(dict.fromkeys(str(f) for f, _ in frames)), "model": seg.name,
        "frames": len(frames), "lines": n_lines,
        "refiner": seg.refiner is not None, "scorer": seg.scorer is not None,
        "rows": rows,
        "iou_head": {"ranked": rows.get("text-sam", {}).get("all", {}).get("fgIoU", 0.0),
                     "head_only": fgiou_of_picks(iu, head_pick),
                     **{f"fixed_{k}": fixed[k]["all"].row()["fgIoU"] for k in range(3)},
                     "oracle": oracle_fgiou(iu),
                     "spearman": _spearman(np.array(pred_iou), np.array(true_iou)),
                     "best_fixed": best_fixed},
        # 95% bootstrap intervals over frames: the model's fgIoU, and ranking's lead over the best fixed index
        "ci95": {"fgIoU": bootstrap_ci(pf, 0),
                 "ranked_minus_best_fixed": bootstrap_ci(pf, 0, 1 + best_fixed)},
        "ms_per_line": 1000 * t_model / max(1, n_lines),
        **({"end_to_end": e2e.row()} if end_to_end else {}),
    }
