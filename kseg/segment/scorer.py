"""Mask scorer: predicts the IoU of the *refined* masks, to rank text-SAM's outputs 1 and 2.

Why it exists: SAM's IoU head scores the decoder's masks from its IoU token, before the edge
refiner runs. With the refiner behind it, the two non-empty outputs end up close (output 1
is the better delivered mask on about a third of held-out lines, by a median 0.017 IoU),
and nothing in the token tells which: the head tied output 2 on every held-out set, even
refitted to refined IoUs (``--stage iou-head``). What does tell is the refined mask itself,
the way Mask Scoring R-CNN's MaskIoU head scores a mask from the mask: how much of the box
it fills, how wide its uncertain band is and how sure it is there, how strong the image
gradient is along its edge, and how much the two candidates agree. This small MLP maps
those measurements (plus the decoder's own IoU and stability) to an IoU per output.

Output 0, the empty "no caption" answer to a false detection, stays the decoder head's call:
the scorer only re-ranks outputs 1 and 2 when the decoder chose one of them.
No library ships a quality head for `segment_anything`'s decoder, hence this module.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

PER_OUTPUT = 6  # area / box, uncertain band / area, mean |logit| in it, edge gradient, IoU, stability
N_FEATURES = 3 * PER_OUTPUT + 1  # outputs 1 and 2, their difference, and the two masks' overlap
COLOUR_FEATURES = 9  # feature set 2 adds these (colour_features)
FEATURES = {1: N_FEATURES, 2: N_FEATURES + COLOUR_FEATURES}  # feature set -> width
IOU_AT = 4  # where the decoder head's IoU sits among an output's features
BAND = 3.0  # |logit| below this is the uncertain band


def output_features(vals: np.ndarray, grad: np.ndarray, box_area: float, iou: float, stab: float) -> list[float]:
    """One refined output's measurements: ``vals`` its logits on the frame window, ``grad`` the
    image gradient magnitude over the same window."""
    m = vals > 0
    area = int(m.sum())
    band = np.abs(vals) < BAND
    edge = m ^ cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return [area / box_area, float(band.sum()) / max(1, area),
            float(np.abs(vals[band]).mean()) if band.any() else BAND,
            float(grad[edge].mean()) / 100 if edge.any() else 0.0, float(iou), float(stab)]


def gradient(window: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an RGB window (float32)."""
    gray = cv2.cvtColor(window, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def _mean_lab(lab: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float]:
    """Mean Lab colour of the pixels under ``m`` and their spread (mean per-channel std)."""
    if not m.any():
        return np.zeros(3, np.float32), 0.0
    px = lab[m]
    return px.mean(0), float(px.std(0).mean())


def colour_features(window: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> list[float]:
    """Whether the pixels the two outputs disagree on look like the caption or its surroundings.

    Outputs 1 and 2 differ by a ring (outline, shadow, or a halo of background), and which
    is right is a question of colour, not of glyph shape: a ring coloured like the pixels just
    outside both masks is background, one coloured apart from them is outline or shadow.
    Shape features are learnt from the training fonts; colour was meant to carry further
    (docs/experiments/text-sam-history.md: fitted on two refiners' masks, it beat the shape-only scorer on three
    held-out sets, one of them made only to decide, and is the shipped scorer's feature set).
    Per output: the Lab contrast across its edge and the spread of the colour just outside it;
    then the ring's share of the union and its colour distance to outside and to the core.
    """
    lab = cv2.cvtColor(window, cv2.COLOR_RGB2LAB).astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    per = []
    for m in (m1, m2):
        mu8 = m.astype(np.uint8)
        inner = m & ~cv2.erode(mu8, k).astype(bool)
        outer = cv2.dilate(mu8, k, iterations=2).astype(bool) & ~m
        (ci, _), (co, so) = _mean_lab(lab, inner), _mean_lab(lab, outer)
        per.append([float(np.linalg.norm(ci - co)) / 100 if inner.any() and outer.any() else 0.0, so / 100])
    union, core, ring = m1 | m2, m1 & m2, m1 ^ m2
    outside = cv2.dilate(union.astype(np.uint8), k, iterations=3).astype(bool) & ~union
    (cr, _), (co, so), (cc, sc) = _mean_lab(lab, ring), _mean_lab(lab, outside), _mean_lab(lab, core)
    has = ring.any()
    return (per[0] + per[1] + [per[0][0] - per[1][0], per[0][1] - per[1][1],
                               float(ring.sum()) / max(1, int(union.sum())),
                               float(np.linalg.norm(cr - co)) / (so + 10) if has and outside.any() else 0.0,
                               float(np.linalg.norm(cr - cc)) / (sc + 10) if has and core.any() else 0.0])


def line_features(window: np.ndarray, v1: np.ndarray, v2: np.ndarray, box, iou, stab,
                  version: int = 1) -> np.ndarray:
    """(FEATURES[version],) for one line: ``window`` the frame's pixels under the pasted logits
    ``v1`` and ``v2`` (refined outputs 1 and 2, same rectangle), ``box`` the prompt box in frame
    pixels, ``iou`` / ``stab`` the decoder's three predicted IoUs and stability scores;
    feature set 2 adds :func:`colour_features`."""
    grad = gradient(window)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    ba = float(max(1, (x1 - x0) * (y1 - y0)))
    f1 = output_features(v1, grad, ba, iou[1], stab[1])
    f2 = output_features(v2, grad, ba, iou[2], stab[2])
    m1, m2 = v1 > 0, v2 > 0
    overlap = float((m1 & m2).sum()) / max(1, int((m1 | m2).sum()))
    extra = colour_features(window, m1, m2) if version >= 2 else []
    return np.array(f1 + f2 + [a - b for a, b in zip(f1, f2)] + [overlap] + extra, np.float32)


class MaskScorer(nn.Module):
    """(B, N_FEATURES) -> (B, 2) predicted IoU of refined outputs 1 and 2: the mean of
    ``members`` small MLPs fitted from different seeds (the lines where the choice matters
    are few, so one MLP's pick varies with its seed; the mean does not).

    The features' normalisation lives in buffers, so it travels in the model file with the weights.
    """

    def __init__(self, hidden: int = 16, members: int = 1, features: int = N_FEATURES):
        super().__init__()
        self.register_buffer("mu", torch.zeros(features))
        self.register_buffer("sd", torch.ones(features))
        self.members = nn.ModuleList(
            nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 2)) for _ in range(members))

    def member(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return self.members[k]((x - self.mu) / self.sd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.member(k, x) for k in range(len(self.members))]).mean(0)
