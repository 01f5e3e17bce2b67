"""Segment stage: OCR line boxes -> SAM box prompts -> IoU-ranked text masks.

    seg = TextSegmenter(model=None, device="auto")   # None = embedded text-SAM
    masks: list[LineMask] = seg.segment(image_rgb_uint8, lines)

Every line becomes a zoomed tile (see tiles.py); the tiles share one canvas, encoded as
one batch of tiles, and each box gets a multimask decoder call on its own tile's rows of the
embedding (an official ViT: one batched call, as SamPredictor makes). Of SAM's three masks per box
the one with the highest predicted IoU is kept, stability score breaking ties. Where
the model has an edge refiner (refine.py), the chosen logits, pasted back onto the
frame, are corrected there against the frame's own pixels; where it also has a mask
scorer (scorer.py), outputs 1 and 2 are both refined and re-ranked by the IoU the
scorer predicts for the refined masks.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from segment_anything import SamPredictor, sam_model_registry
from segment_anything.utils.amg import calculate_stability_score

from ..errors import ModelError
from ..types import LineMask, TextLine
from . import registry, tiles
from .refine import refine_window
from .scorer import line_features
from .textsam import STRIDE, TextSamConfig, build_text_sam, decode, normalize

TIE = 1e-3  # predicted IoUs closer than this count as a tie
# A chosen mask that fills its line box (> PLATE_COVER) and spills beyond it (> PLATE_SPILL of
# the box area) while another output stays on the text (covers >= ALT_COVER, spills at most
# half as much) has taken the plate. Set on the 200 held-out frames: it catches the 3 news
# plates and leaves every thick-outlined variety caption alone.
PLATE_SPILL = 0.15
PLATE_COVER = 0.7
ALT_COVER = 0.12
# A line boxed narrower than NARROW x its height (one or two syllables: 왜, 헉, the last syllable
# of a subtitle wrapped onto its own line) is prompted with its box widened to that, centred,
# and its mask kept within NECK heights of the box's sides. Text-SAM learnt on lines: on square
# boxes its masks miss whole strokes (a real subtitle's syllables boxed one by one: 68.5 % of
# their ink covered, 22 of 26 under 90 %; widened to 2.5x: all of it; 3x lost one glyph).
NARROW = 2.5
NECK = 0.3


def prompt_box(box) -> tuple[int, int, int, int]:
    """The box text-SAM is prompted with for a line boxed ``box`` (see NARROW)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if h <= 0 or w >= NARROW * h:
        return (x0, y0, x1, y1)
    pad = (NARROW * h - w) / 2
    return (int(round(x0 - pad)), y0, int(round(x1 + pad)), y1)


def _within_sides(mask: np.ndarray, box) -> np.ndarray:
    """``mask`` cut to the columns within NECK line heights of ``box``'s sides, in place: what a
    widened prompt's mask may hold of a neighbour beside the line is not the line's."""
    x0, y0, x1, y1 = (int(v) for v in box)
    if prompt_box(box)[0] == x0:
        return mask
    m = int(round(NECK * (y1 - y0)))
    mask[:, :max(0, x0 - m)] = False
    mask[:, max(0, x1 + m):] = False
    return mask


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but torch sees no CUDA GPU (use --device cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise ModelError(f"unknown device {device!r} (auto, cpu or cuda)")
    return torch.device(device)


def load_sam(spec: str | None):
    """(sam, kind, label) for a --model spec; every load goes through weights-only readers."""
    kind, path, label = registry.resolve(spec)
    sd, meta = registry.load_state_dict(path)
    if kind == "auto":
        kind = registry.detect_kind(sd, meta)
    if kind == "text-sam":
        if "kseg_config" not in meta:
            raise ModelError(f"{path} has no kseg_config metadata; not a kseg text-SAM file")
        sam = build_text_sam(TextSamConfig.from_json(meta["kseg_config"]))
    else:
        sam = sam_model_registry[kind](checkpoint=None)  # official architecture, weights below
    try:
        sam.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{path} does not fit the {kind} architecture: {str(e).splitlines()[0][:200]}") from None
    sam.eval()
    return sam, kind, label


def choose(iou: torch.Tensor, stab: torch.Tensor) -> torch.Tensor:
    """Index of the best mask per prompt: highest predicted IoU; near-ties go to the more stable.

    An empty output can win, and should be allowed to: text-SAM trained on background-only
    boxes, and its empty output is its "no caption here" answer to a false detection.
    Refusing it (as SAM's automatic mask generator drops empty masks) helped with true boxes
    but cost more end to end, with CRAFT's boxes, where an empty answer is often the right one
    (docs/experiments/text-sam-history.md).
    """
    best = iou.max(dim=1, keepdim=True).values
    tied = iou >= best - TIE
    return torch.where(tied, stab, torch.full_like(stab, -1.0)).argmax(dim=1)


class TextSegmenter:
    """SAM with box prompts: one mask per detected line, chosen among the multimask outputs by
    predicted IoU (and the text-SAM model's refiner and scorer where it has them)."""

    def __init__(self, model: str | None = None, device: str = "auto", threshold: float = 0.0,
                 refine: bool = True, score: bool = True):
        self.device = pick_device(device)
        self.sam, self.kind, self.name = load_sam(model)
        self.sam.to(self.device)
        self.threshold = threshold
        self.per_tile = True
        # the model's edge refiner, if it has one; refine=False measures the decoder alone
        self.refiner = getattr(self.sam, "refiner", None) if refine else None
        # its mask scorer ranks refined masks, so it runs only with the refiner; score=False
        # measures the decoder's IoU head alone
        self.scorer = getattr(self.sam, "scorer", None) if (score and self.refiner is not None) else None
        self._memo: dict[tuple[int, int], tuple[np.ndarray, tuple[int, int, int, int]]] = {}
        self.decoder_choice: torch.Tensor | None = None  # the IoU head's pick in the last run
        self.scored: dict[int, list[float]] = {}  # line -> the scorer's IoUs of refined outputs 1, 2
        if self.kind == "text-sam":
            self.tile_h = self.sam.kseg_config.tile_h
            self.predictor = None
            # channels-last: oneDNN's fast path for the encoder's convolutions (same maths, faster;
            # bench/bench_segment.py)
            self.sam.image_encoder.to(memory_format=torch.channels_last)
        else:
            # official ViT: the mosaic goes through SamPredictor (resized to 1024 on its long side)
            self.tile_h = 128
            self.predictor = SamPredictor(self.sam)
        self.timings: dict[str, float] = {}

    def _decode_per_tile(self, emb, boxes, rows, canvas_hw):
        """Each box decoded on its own tile's rows of the embedding. SAM's batched call repeats
        the whole canvas for every prompt, so N lines cost N x N tiles of attention; a box
        never reaches outside its tile, so its tile is all it needs (and what training mostly
        showed it: canvases of one tile)."""
        n = boxes.shape[0]
        out = TextSegmenter._tile_logits(n, 3, rows, canvas_hw[1], emb.device)
        iou = torch.empty((n, 3), device=emb.device)
        for i, (r0, h, w) in enumerate(rows):
            e = emb[:, :, r0 // STRIDE:(r0 + h) // STRIDE, :w // STRIDE]
            bx = boxes[i:i + 1] - torch.tensor([0.0, r0, 0.0, r0], device=emb.device)
            m, q = decode(self.sam, e, (h, w), STRIDE, boxes=bx)
            out[i, :, :h, :w] = m[0]
            iou[i] = q[0]
        return out, iou

    @staticmethod
    def _tile_logits(n: int, k: int, rows, width: int, device) -> torch.Tensor:
        """(n, k, tallest tile, width) of -20 (no mask): each box's logits on its own tile's rows."""
        return torch.full((n, k, max(h for _, h, _ in rows), width), -20.0, device=device)

    @staticmethod
    def _by_tile(logits: torch.Tensor, rows) -> torch.Tensor:
        """Canvas-sized logits (N,3,Hc,Wc) cut to each box's own tile, as ``_decode_per_tile``
        gives them (what lies outside a box's tile is never used)."""
        out = TextSegmenter._tile_logits(logits.shape[0], logits.shape[1], rows, logits.shape[-1], logits.device)
        for i, (r0, h, w) in enumerate(rows):
            out[i, :, :h, :w] = logits[i, :, r0:r0 + h, :w]
        return out

    def _encode_tiles(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """The canvas's ``n`` stacked tiles encoded as a batch and their embeddings stacked back
        (the same work as one pass): the encoder's convolutions, dilated at 1/16, reach across
        the tiles of one canvas, so a line's mask would depend on the lines above and below it
        (a caption got an empty answer among nine lines and a mask alone)."""
        _, c, hc, w = x.shape
        h = hc // n
        batch = x.reshape(c, n, h, w).permute(1, 0, 2, 3)
        emb = self.sam.image_encoder(batch.contiguous(memory_format=torch.channels_last))
        k, eh, ew = emb.shape[1:]
        return emb.permute(1, 0, 2, 3).reshape(1, k, n * eh, ew)

    @torch.inference_mode()
    def logits(self, canvas: np.ndarray, boxes: np.ndarray, rows) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,3,H,Wc) mask logits of each box on its own tile, at canvas resolution (box i's
        tile is rows 0..its height; -20 beyond it), and (N,3) predicted IoU. ``rows``: (row,
        height, width) of each box's tile in the canvas. Canvas-sized logits for every box would
        grow with the square of the lines (11 lines of a 1080p news frame: 150 MB more at
        the peak, with their stability scores)."""
        t0 = time.perf_counter()
        b = torch.as_tensor(boxes, dtype=torch.float32, device=self.device)
        if self.predictor is None:
            x = normalize(self.sam, torch.as_tensor(canvas, device=self.device).permute(2, 0, 1)[None])
            if self.per_tile and len(rows) > 1 and len({h for _, h, _ in rows}) == 1:
                emb = self._encode_tiles(x, len(rows))
            else:
                emb = self.sam.image_encoder(x.contiguous(memory_format=torch.channels_last))
            t1 = time.perf_counter()
            if not self.per_tile:
                masks, iou = decode(self.sam, emb, canvas.shape[:2], STRIDE, boxes=b)
                masks = self._by_tile(masks, rows)
            else:
                masks, iou = self._decode_per_tile(emb, b, rows, canvas.shape[:2])
        else:
            self.predictor.set_image(canvas)
            t1 = time.perf_counter()
            tb = self.predictor.transform.apply_boxes_torch(b, canvas.shape[:2])
            masks, iou, _ = self.predictor.predict_torch(None, None, boxes=tb, multimask_output=True,
                                                         return_logits=True)
            masks = self._by_tile(masks, rows)
        self.timings = {"encode": t1 - t0, "decode": time.perf_counter() - t1}
        return masks, iou

    def _run(self, image: np.ndarray, lines: list[TextLine]):
        prompts = [prompt_box(ln.box) for ln in lines]
        tl = [tiles.tile_for_box(b, self.tile_h) for b in prompts]
        canvas = tiles.build_canvas(image, tl)
        boxes = np.stack([t.to_tile(b) for t, b in zip(tl, prompts)])
        logits, iou = self.logits(canvas, boxes, [(t.row, t.height, t.width) for t in tl])
        # an output with no pixel above either threshold is 0/0 in SAM's formula: call it unstable
        stab = torch.nan_to_num(calculate_stability_score(logits, self.sam.mask_threshold, 1.0), nan=0.0)
        idx = choose(iou, stab)
        self._avoid_plates(logits, boxes, tl, iou, idx)
        self.decoder_choice = idx.clone()
        self._memo, self.scored = {}, {}
        if self.scorer is not None:
            # the plate rule never picks the empty output nor leaves it, so the same lines are
            # re-ranked whether it ran first or not; it runs again on the scorer's picks
            self._rescore(image, lines, tl, logits, iou, stab, idx)
            self._avoid_plates(logits, boxes, tl, iou, idx)
        return tl, logits, iou, stab, idx

    def _rescore(self, image, lines, tl, logits, iou, stab, idx) -> None:
        """Where the IoU head chose a non-empty output, refine outputs 1 and 2 and keep the one
        the scorer predicts the higher IoU for (both refinements are kept for the paste)."""
        todo, feats = [], []
        t0, refined0 = time.perf_counter(), self.timings.get("refine", 0.0)
        for i, t in enumerate(tl):
            if int(idx[i]) not in (1, 2):
                continue
            v1, rect = self.pasted_logits(image, logits[i, 1], t)
            v2, _ = self.pasted_logits(image, logits[i, 2], t)
            if not v1.size:
                continue
            self._memo[(i, 1)], self._memo[(i, 2)] = (v1, rect), (v2, rect)
            x0, y0, x1, y1 = rect
            feats.append(line_features(image[y0:y1, x0:x1], v1, v2, lines[i].box, iou[i].tolist(), stab[i].tolist(),
                                       self.sam.kseg_config.scorer_features))
            todo.append(i)
        if todo:
            with torch.inference_mode():
                q = self.scorer(torch.from_numpy(np.stack(feats)).to(self.device))
            for j, i in enumerate(todo):
                idx[i] = 1 if q[j, 0] > q[j, 1] else 2
                self.scored[i] = q[j].tolist()
        # the refining is counted under "refine"; "score" is the measuring and the MLP
        self.timings["score"] = time.perf_counter() - t0 - (self.timings.get("refine", 0.0) - refined0)

    def _avoid_plates(self, logits, boxes, tl, iou, idx) -> None:
        """A banner is not ink: when the chosen output fills the line box and spills well
        beyond it (SAM's "whole object" reading of a caption on a light plate), take the
        best-ranked output that stays on the text instead. Erasing a whole plate would
        replace it with its surroundings, far worse on the held-out news frames where it happens
        than even the box baseline (bench/bench_erase.py)."""
        for i, t in enumerate(tl):
            m = logits[i, :, :t.height, :t.width] > self.sam.mask_threshold
            bx0, by0, bx1, by1 = boxes[i]
            x0, x1 = max(0, int(round(bx0))), min(t.width, int(round(bx1)))
            y0, y1 = max(0, int(round(by0 - t.row))), min(t.height, int(round(by1 - t.row)))
            area = max(1, (x1 - x0) * (y1 - y0))
            inside = m[:, y0:y1, x0:x1].sum(dim=(1, 2)).float()
            spill = (m.sum(dim=(1, 2)).float() - inside) / area
            cover = inside / area
            k = int(idx[i])
            if spill[k] > PLATE_SPILL and cover[k] > PLATE_COVER:
                ok = [j for j in range(m.shape[0])
                      if spill[j] <= 0.5 * spill[k] and cover[j] >= ALT_COVER]
                if ok:
                    idx[i] = max(ok, key=lambda j: float(iou[i, j]))

    def pasted_logits(self, image: np.ndarray, logit: torch.Tensor, t: tiles.Tile):
        """One output's tile logits (``logit``: its rows of ``logits()``) on the frame, refined where
        the model can: (values, rect)."""
        h, w = image.shape[:2]
        vals, (x0, y0, x1, y1) = tiles.paste(logit[:t.height, :t.width].float().cpu().numpy(), t, w, h)
        if self.refiner is not None and vals.size:
            t0 = time.perf_counter()
            vals = refine_window(self.refiner, image[y0:y1, x0:x1], vals)
            self.timings["refine"] = self.timings.get("refine", 0.0) + time.perf_counter() - t0
        return vals, (x0, y0, x1, y1)

    def frame_mask(self, shape: tuple[int, ...], vals: np.ndarray, rect) -> np.ndarray:
        """Pasted logits on their rectangle -> the bool mask over the whole frame."""
        x0, y0, x1, y1 = rect
        full = np.zeros(shape[:2], bool)
        full[y0:y1, x0:x1] = vals > self.threshold
        return full

    def _paste(self, image: np.ndarray, logit: torch.Tensor, t: tiles.Tile, key=None, box=None) -> np.ndarray:
        """The mask on the frame; ``key`` (line, output) reuses what the last run already refined;
        ``box``: the line's own box, when its prompt was widened (``prompt_box``)."""
        got = self._memo.get(key) if key is not None else None
        mask = self.frame_mask(image.shape, *(got if got is not None else self.pasted_logits(image, logit, t)))
        return mask if box is None else _within_sides(mask, box)

    def segment(self, image: np.ndarray, lines: list[TextLine]) -> list[LineMask]:
        """One ``LineMask`` per line (same order): the chosen mask and every output's scores."""
        if not lines:
            self.timings = {"encode": 0.0, "decode": 0.0}
            return []
        tl, logits, iou, stab, idx = self._run(image, lines)
        return [LineMask(self._paste(image, logits[i, int(idx[i])], t, (i, int(idx[i])), lines[i].box),
                         iou[i].tolist(), stab[i].tolist(), int(idx[i]), self.scored.get(i))
                for i, t in enumerate(tl)]

    def segment_forced(self, image: np.ndarray, lines: list[TextLine]) -> list[LineMask]:
        """``segment`` with the empty "no caption here" answer refused: each line gets the best
        of its non-empty outputs (for lines another judge, the reader, says are text)."""
        if not lines:
            return []
        tl, logits, iou, stab, idx = self._run(image, lines)
        for i in range(len(tl)):
            if int(idx[i]) == 0:
                idx[i] = 1 + int(torch.argmax(iou[i, 1:]))
        return [LineMask(self._paste(image, logits[i, int(idx[i])], t, (i, int(idx[i])), lines[i].box),
                         iou[i].tolist(), stab[i].tolist(), int(idx[i]), self.scored.get(i))
                for i, t in enumerate(tl)]

    def segment_all(self, image: np.ndarray, lines: list[TextLine]):
        """Every multimask output per line, for evaluation: [(3 masks, predicted IoUs, chosen)];
        ``decoder_choice`` then holds what the IoU head alone would have chosen."""
        if not lines:
            return []
        tl, logits, iou, stab, idx = self._run(image, lines)
        return [([self._paste(image, logits[i, k], t, (i, k), lines[i].box) for k in range(logits.shape[1])],
                 iou[i].tolist(), int(idx[i]))
                for i, t in enumerate(tl)]


def save_random(path: Path, seed: int = 0, cfg: TextSamConfig | None = None) -> Path:
    """A text-SAM with random weights: real architecture and file format, for I/O tests and timing."""
    torch.manual_seed(seed)
    sam = build_text_sam(cfg)
    registry.save_text_sam(sam, Path(path), {"note": "random weights (tests/timing only)"})
    return Path(path)


from kseg import _callable  # noqa: E402 - last, once the module is complete

_callable.install(__name__)  # kseg.segment(...) calls kseg.api.segment
