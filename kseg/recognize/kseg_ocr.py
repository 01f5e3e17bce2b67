"""kseg's own caption-line recogniser: a small CRNN with CTC (``models/kseg-ocr.safetensors``).

Why our own: EasyOCR's Korean weights cannot be downloaded here and Tesseract ``kor`` misreads
styled TV captions. The architecture is the CRNN family EasyOCR's recognisers use (conv
feature columns -> BiLSTM -> per-column class scores, CTC), sized for CPU: a line at 32 px
height runs in a few ms. Word spacing is kept by making the space a class.

The model file is plain safetensors; its metadata holds the charset and the config, so a
file is self-describing and loading never unpickles anything.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from kseg._inference import Bf16Part, fast_cpu_bf16, fold_batchnorm
from kseg.errors import ModelError
from kseg.recognize import lm as lmmod
from kseg.recognize.strip import mask_input, to_height
from kseg.types import Recognition, TextLine

def remap_head(model: "CRNN", old: str, new: str) -> "CRNN":
    """The classifier re-indexed from charset ``old`` to ``new``: a character both share keeps
    its trained row; a new one starts from the blank's bias minus a margin and small weights,
    so it is never emitted until training gives it a reason."""
    head = model.head
    w, b = head.weight.data, head.bias.data
    lin = nn.Linear(head.in_features, len(new) + 1)
    pos = {c: i + 1 for i, c in enumerate(old)}
    with torch.no_grad():
        lin.weight.normal_(0, 0.01)
        lin.bias.fill_(float(b.min()) - 2.0)
        lin.weight[0], lin.bias[0] = w[0], b[0]
        for j, c in enumerate(new):
            if c in pos:
                lin.weight[j + 1], lin.bias[j + 1] = w[pos[c]], b[pos[c]]
    model.head = lin
    return model


class Codec:
    """CTC label codec: class 0 is the blank, class i+1 is ``charset[i]``."""

    def __init__(self, charset: str):
        self.charset = charset
        self.index = {c: i + 1 for i, c in enumerate(charset)}

    def __len__(self) -> int:
        return len(self.charset) + 1

    def encode(self, text: str) -> list[int]:
        """Labels of ``text``; characters outside the charset are dropped."""
        return [self.index[c] for c in " ".join(text.split()) if c in self.index]

    def decode(self, ids) -> str:
        """Greedy CTC: merge repeats, drop blanks."""
        return lmmod.labels_to_text(lmmod.collapse(ids), self.charset)


@dataclass
class OCRConfig:
    height: int = 32
    in_ch: int = 1  # 1: grey (mask-cleaned or grey colour), 3: RGB colour strip
    input: str = "mask"  # what the strip is turned into: "mask" (fill black on white) or "colour"
    width: int = 1  # channel multiplier
    hidden: int = 192
    n_classes: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, s: str) -> "OCRConfig":
        return cls(**json.loads(s))


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CRNN(nn.Module):
    """32 px high line -> W/4 feature columns -> BiLSTM -> class logits per column."""

    def __init__(self, cfg: OCRConfig):
        super().__init__()
        c = [int(v * cfg.width) for v in (32, 64, 128, 192, 256)]
        self.cnn = nn.Sequential(
            _block(cfg.in_ch, c[0]), nn.MaxPool2d(2),              # H/2, W/2
            _block(c[0], c[1]), nn.MaxPool2d(2),                   # H/4, W/4
            _block(c[1], c[2]), _block(c[2], c[2]), nn.MaxPool2d((2, 1)),  # H/8
            _block(c[2], c[3]), _block(c[3], c[3]), nn.MaxPool2d((2, 1)),  # H/16
        )
        fh = cfg.height // 16
        self.proj = nn.Sequential(nn.Conv2d(c[3], c[4], (fh, 1), bias=False), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True))
        self.rnn = nn.LSTM(c[4], cfg.hidden, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * cfg.hidden, cfg.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, W/4, classes) logits."""
        f = self.proj(self.cnn(x - 0.5)).squeeze(2).transpose(1, 2)
        f, _ = self.rnn(f)
        return self.head(f)


# ----------------------------------------------------------------------------- preprocessing

def tight(mask_img: np.ndarray) -> np.ndarray:
    """Crop a black-on-white glyph image to its ink, plus a small white margin.

    Why: the strip carries a 25% margin of background (for outlines and shadows); once the
    background is gone that margin only wastes resolution, so at 32 px the glyphs get ~28 px
    instead of ~21, and every line arrives at one scale whatever the detector's box was."""
    ink = mask_img < 128
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return mask_img
    crop = mask_img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h = crop.shape[0]
    py, px = max(1, round(0.06 * h)), max(2, round(0.25 * h))
    return cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_CONSTANT, value=255)


def _source(strip: np.ndarray, footprint: np.ndarray | None, cfg: OCRConfig) -> np.ndarray:
    """The strip as the network reads it, before scaling to its height."""
    if cfg.input == "mask":
        return tight(mask_input(strip, footprint))
    return strip if cfg.in_ch == 3 else cv2.cvtColor(strip, cv2.COLOR_RGB2GRAY)


def _scaled(src: np.ndarray, height: int) -> np.ndarray:
    img = to_height(src, height)
    return img if img.ndim == 3 else img[..., None]


def prepare(strip: np.ndarray, footprint: np.ndarray | None, cfg: OCRConfig) -> np.ndarray:
    """An upright line strip (as ``line_strip`` cuts it) -> the network input, HxWxC uint8."""
    return _scaled(_source(strip, footprint, cfg), cfg.height)


# Rows trimmed per extra view, as fractions of the strip height: top, bottom, then twice as many.
VIEW_TRIMS = ((0.04, 0), (0, 0.04), (0.08, 0), (0, 0.08))


def _reframed(src: np.ndarray, base: np.ndarray, cfg: OCRConfig, n: int) -> list[np.ndarray]:
    """``n`` copies of ``src`` with rows trimmed per ``VIEW_TRIMS``, scaled to ``base``'s size."""
    h = src.shape[0]
    out = []
    for top, bottom in VIEW_TRIMS[:n]:
        a, b = max(1, round(top * h)) if top else 0, max(1, round(bottom * h)) if bottom else 0
        if h - a - b < 4:  # too small to trim: repeat the base view
            out.append(base)
            continue
        interp = cv2.INTER_AREA if cfg.height < h else cv2.INTER_LINEAR
        v = cv2.resize(src[a:h - b], (base.shape[1], cfg.height), interpolation=interp)
        out.append(v if v.ndim == 3 else v[..., None])
    return out


def views(strip: np.ndarray, footprint: np.ndarray | None, cfg: OCRConfig, n: int) -> list[np.ndarray]:
    """``prepare``'s input and ``n - 1`` copies re-framed vertically (rows trimmed off the top or
    the bottom), all scaled to its width so their CTC columns line up.

    Why: where the detector's box falls moves the CRNN's reading of a rare syllable by a jamo;
    averaging the per-column log-probabilities of a few framings (test-time augmentation)
    cancels much of that. Measured in ``docs/experiments/kseg-ocr-history.md``."""
    src = _source(strip, footprint, cfg)
    base = _scaled(src, cfg.height)
    return [base, *_reframed(src, base, cfg, n - 1)]


def _at_width(base: np.ndarray, width: int | None, height: int) -> np.ndarray:
    """``base`` (height x W x C) scaled to ``width`` columns; itself when None or already so."""
    if width is None or base.shape[1] == width:
        return base
    out = cv2.resize(base, (width, height), interpolation=cv2.INTER_AREA)
    return out if out.ndim == 3 else out[..., None]


def _confidence(logp: torch.Tensor) -> tuple[float, torch.Tensor]:
    """A reading's confidence and each column's best label, from (T, C) log-probabilities: the
    mean probability of the columns that emit a character (0 where none does). ``decode``
    reports it; ``recognize_best`` picks a line's box by it before decoding."""
    p, ids = logp.exp().max(-1)
    keep = ids != 0
    return (float(p[keep].mean()) if bool(keep.any()) else 0.0), ids


def to_tensor(imgs: list[np.ndarray], pad_to: int = 4) -> torch.Tensor:
    """Right-pad (edge-replicated) a list of HxWxC uint8 images into one (B, C, H, W) float batch."""
    w = max(i.shape[1] for i in imgs)
    w = int(np.ceil(w / pad_to) * pad_to)
    out = np.stack([np.pad(i, ((0, 0), (0, w - i.shape[1]), (0, 0)), mode="edge") for i in imgs])
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


# ----------------------------------------------------------------------------- files

def save_model(model: CRNN, cfg: OCRConfig, charset: str, path: Path, extra: dict | None = None) -> None:
    """Weights as fp16 safetensors (half the size; the fp32 model reads them back exactly enough)."""
    from safetensors.torch import save_file

    sd = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "kseg-ocr-crnn-ctc", "config": cfg.to_json(), "charset": charset,
            **{k: str(v) for k, v in (extra or {}).items()}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(sd, str(tmp), metadata=meta)
    tmp.replace(path)


def load_model(path: Path, device: str = "cpu") -> tuple[CRNN, OCRConfig, Codec]:
    from safetensors import safe_open

    from kseg.segment.registry import check_finite

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}
        check_finite(Path(path), sd)
        if meta.get("format") != "kseg-ocr-crnn-ctc":
            raise ValueError(f"not a kseg-ocr model (format {meta.get('format')!r})")
        cfg = OCRConfig.from_json(meta["config"])
        codec = Codec(meta["charset"])
        model = CRNN(cfg)
        ref = model.state_dict()
        model.load_state_dict({k: v.to(ref[k].dtype) for k, v in sd.items()})
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt / foreign file: one clear error
        raise ModelError(f"cannot load kseg-ocr model {path}: {e}") from e
    return model.eval().to(device), cfg, codec


VIEWS = 3  # framings averaged per unsure line by default (see ``views``; more read a little better
#           but cost more than the per-line budget: docs/experiments/kseg-ocr-history.md)
LM_WEIGHT, LM_BONUS = 0.3, 1.5  # Kiwi's weight and the per-character bonus in rescoring
# Readings as long as the best one compete in rescoring from this many nats off (others from
# decode's 2, chosen on synthetic lines). On bench/real, chosen on nine repositories and applied
# to the tenth for each of the ten: CER 0.201 -> 0.194 held out (every fold chose 4). It costs
# the synthetic eval split's random-syllable lines, which Kiwi can only misread;
# docs/experiments/2026-12-02-real-footage.md, nineteenth session.
LM_SWAP_MARGIN = 4.0
# Prefixes the beam search keeps (lm.decode's default is 10). A wider beam is a better search:
# the true line was among the n-best of 118 of bench/real's 205 caption lines at 10 and of 138 at
# 40, and Kiwi picked it more often (CER 0.194 -> 0.182 with the other settings unchanged; 80:
# 0.180). Chosen on the synthetic held-out splits: display faces 0.1227 / 0.1211 / 0.1221 and the
# eval split 0.0220 / 0.0227 / 0.0230 at 10 / 40 / 80; decoding costs ~2.5 ms a line more than at 10.
LM_BEAM = 40
# Reading widens the network input by this factor (training does not), unless the model file
# says its own (metadata "read_stretch", chosen on the synthetic held-out split when it ships).
# For a model trained without condensed lines, real captions (condensed display faces) and the
# held-out synthetic lines both read better a little wider: bench/real CER 0.273 -> 0.249,
# synthetic eval split 0.0279 -> 0.0262 (docs/experiments/2026-12-02-real-footage.md).
STRETCH = 1.2


def read_stretch(path: str | Path) -> float:
    """The model file's reading width factor, or ``STRETCH`` where it names none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            value = (f.metadata() or {}).get("read_stretch")
    except Exception:  # noqa: BLE001 - load_model reports a bad file with its own message
        return STRETCH
    if value is None:
        return STRETCH
    try:
        return float(value)
    except ValueError:
        raise ModelError(f"{path}: its read_stretch {value!r} is not a number") from None
UNSURE = 0.7  # ... a line is unsure when an emitted character's probability is below this


class KsegOCRRecognizer:
    """The Recognizer protocol over the CRNN: strip -> (mask-cleaned) input -> CTC decoding;
    an unsure line is read again in ``views`` framings and their log-probabilities averaged,
    then decoded by a beam search whose n-best Kiwi's Korean language model rescores
    (``lm="kiwi"``; ``"none"``: greedy, as before issue 20; ``"auto"``: Kiwi when installed).

    Why only unsure lines get framings: on held-out lines the extra framings change nothing
    where every character is read with probability >= ``unsure`` (about half the lines), so
    skipping them there keeps the averaging's gain at about half its cost."""

    name = "kseg"

    def __init__(self, path: str | Path, device: str = "cpu", views: int = VIEWS, unsure: float = UNSURE,
                 lm: str = "auto", lm_weight: float | None = None, lm_bonus: float | None = None,
                 stretch: float | None = None, dtype: str = "auto"):
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if not 1 <= views <= len(VIEW_TRIMS) + 1:
            raise ValueError(f"views must be 1..{len(VIEW_TRIMS) + 1}, not {views}")
        if lm not in ("auto", "kiwi", "none"):
            raise ValueError(f"lm must be auto, kiwi or none, not {lm!r}")
        if stretch is None:
            stretch = read_stretch(path)
        if not 0.5 <= stretch <= 3.0:
            raise ValueError(f"stretch must be within 0.5..3, not {stretch}")
        self.device, self.views, self.unsure, self.stretch = device, views, unsure, stretch
        self.model, self.cfg, self.codec = load_model(Path(path), device)
        fold_batchnorm(self.model)  # reading only (training loads its own copy): 8 % of the CRNN's time
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"dtype must be auto, float32 or bfloat16, not {dtype!r}")
        if dtype == "bfloat16" or (dtype == "auto" and device == "cpu" and fast_cpu_bf16()):
            # the convolutions and their projection in bfloat16, one cast each way: four fifths
            # of the network's time in float32, an eighth of that in bfloat16 (Bf16Part)
            self.model.cnn = Bf16Part(nn.Sequential(self.model.cnn, self.model.proj))
            self.model.proj = nn.Identity()
        self.dtype = "bfloat16" if isinstance(self.model.cnn, Bf16Part) else "float32"
        self.lm = None if lm == "none" else lmmod.default_lm()
        if lm == "kiwi" and self.lm is None:
            raise ModelError("--lm kiwi needs kiwipiepy: pip install kiwipiepy kiwipiepy-model")
        self.lm_weight = LM_WEIGHT if lm_weight is None else lm_weight
        self.lm_bonus = LM_BONUS if lm_bonus is None else lm_bonus

    def _logp(self, imgs: list[np.ndarray]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(to_tensor(imgs).to(self.device)).log_softmax(-1)

    def strip_logp(self, strip: np.ndarray, footprint: np.ndarray | None, width: int | None = None) -> torch.Tensor:
        """(T, C) log-probabilities of one strip (framings averaged where unsure); ``width``
        scales the input to that many pixels so readings of one caption line up column for
        column (``fuse``)."""
        src = _source(strip, footprint, self.cfg)
        return self._src_logp(src, self._base(src), width)

    def _base(self, src: np.ndarray) -> np.ndarray:
        """The network-height copy of ``src``, widened by ``stretch`` (see ``STRETCH``)."""
        base = _scaled(src, self.cfg.height)
        if self.stretch == 1.0:
            return base
        w = max(4, round(base.shape[1] * self.stretch))
        base = cv2.resize(base, (w, self.cfg.height), interpolation=cv2.INTER_LINEAR)
        return base if base.ndim == 3 else base[..., None]

    def _src_logp(self, src: np.ndarray, base: np.ndarray, width: int | None) -> torch.Tensor:
        """``strip_logp`` from the prepared source and its network-height copy."""
        base = _at_width(base, width, self.cfg.height)
        return self._framed([src], [base], self._logp([base]))[0]

    def _framed(self, srcs: list[np.ndarray], bases: list[np.ndarray], logps: torch.Tensor) -> list[torch.Tensor]:
        """Each strip's (T, C) log-probabilities ``logps[k]``, averaged with ``views - 1`` other
        framings where the reader is unsure; the other framings of all unsure strips of one width
        go through the network in one batch."""
        out = list(logps)
        if self.views <= 1:
            return out
        by_width: dict[int, list[int]] = {}
        for k, logp in enumerate(out):
            p, ids = logp.exp().max(-1)
            keep = ids != 0
            if not bool(keep.any()) or float(p[keep].min()) < self.unsure:
                by_width.setdefault(bases[k].shape[1], []).append(k)
        # a sure line (about half) never needs the other framings, which are only made here
        n = self.views - 1
        for ks in by_width.values():
            more = self._logp([im for k in ks for im in _reframed(srcs[k], bases[k], self.cfg, n)])
            for j, k in enumerate(ks):
                out[k] = torch.cat([out[k][None], more[j * n:(j + 1) * n]]).mean(0).log_softmax(-1)
        return out

    def decode(self, logp: torch.Tensor) -> tuple[str, float]:
        """Text and confidence (mean max-probability of the emitted columns) of (T, C) log-probs."""
        score, ids = _confidence(logp)
        if self.lm is None:
            text = self.codec.decode(ids.tolist())
        else:
            text = lmmod.decode(logp.cpu().numpy(), self.codec.charset, self.lm, self.lm_weight, self.lm_bonus,
                                swap_margin=LM_SWAP_MARGIN, beam=LM_BEAM)
        return text, score

    def read_strip(self, strip: np.ndarray, footprint: np.ndarray | None) -> tuple[str, float]:
        return self.decode(self.strip_logp(strip, footprint))

    def fuse(self, strips: list[tuple[np.ndarray, np.ndarray | None]]) -> tuple[str, float]:
        """One reading from many frames of the same caption: every strip scaled to the median
        width, their log-probabilities averaged column by column, then decoded once.

        Why: a caption stays on screen for 10-100 frames; codec noise and the box move from
        frame to frame, so one frame's misread jamo is outvoted by the others."""
        if not strips:
            return "", 0.0
        srcs = [_source(s, f, self.cfg) for s, f in strips]
        bases = [self._base(src) for src in srcs]
        w = int(np.median([b.shape[1] for b in bases]))
        bases = [_at_width(b, w, self.cfg.height) for b in bases]
        # one batch through the network, not one call per frame: the strips share one width, so
        # none is padded and each reads as it would alone
        logps = self._framed(srcs, bases, self._logp(bases))
        return self.decode(torch.stack(logps).mean(0).log_softmax(-1))

    def recognize(self, image: np.ndarray, line: TextLine, mask: np.ndarray | None) -> Recognition:
        from kseg.recognize import line_strip

        strip, mstrip = line_strip(image, line, mask)
        text, score = self.read_strip(strip, mstrip)
        return Recognition(text, self.name, round(score, 4))

    def recognize_best(self, image: np.ndarray, lines: list[TextLine], mask: np.ndarray | None) -> Recognition:
        """The reading of the box of one line (of several: a still frame's moved-in boxes) the
        reader is surest of, by the score ``decode`` reports, taken from each box's
        log-probabilities (framings averaged where unsure) before any decoding; the first box wins
        a tie. Only the winner is decoded: the beam search and Kiwi are the dearer half."""
        from kseg.recognize import line_strip

        best: tuple[float, torch.Tensor] | None = None
        for line in lines:
            logp = self.strip_logp(*line_strip(image, line, mask))
            score, _ = _confidence(logp)
            if best is None or score > best[0]:
                best = (score, logp)
        if best is None:
            raise ValueError("recognize_best needs at least one box")
        text, score = self.decode(best[1])
        return Recognition(text, self.name, round(score, 4))
