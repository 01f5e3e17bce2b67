"""Which SAM checkpoints exist, where they live, and how they load (safely).

Specs accepted by ``--model``: ``text-sam`` (the embedded default, models/text-sam.safetensors),
``vit_b`` / ``vit_l`` / ``vit_h`` (Meta's official checkpoints, from the user cache after
``kseg models pull``), or a path to a compatible checkpoint (.safetensors, or .pth/.pt holding a
plain state dict: loaded with ``torch.load(weights_only=True)``, never unpickling code).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ModelError

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
EMBEDDED = "text-sam"

# Published by Meta (segment-anything README); the SHA-256 is of the exact files at these URLs.
OFFICIAL = {
    "vit_b": ("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
              "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383),
    "vit_l": ("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
              "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607),
    "vit_h": ("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
              "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879),
}
# ViT width -> official architecture, to recognise a checkpoint by its tensors
_VIT_BY_WIDTH = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}


from ..paths import cache_dir  # noqa: E402  (re-exported: callers use registry.cache_dir)


PACKAGE_MODELS = Path(__file__).resolve().parents[1] / "_models"  # a wheel's copy (setup.py)


def models_dir() -> Path:
    """Where the embedded models live: $KSEG_MODELS, else the repository's models/ folder (a
    clone, an editable install), else the copy an installed wheel carries (kseg/_models)."""
    env = os.environ.get("KSEG_MODELS")
    if env:
        return Path(env)
    return REPO_MODELS if REPO_MODELS.is_dir() or not PACKAGE_MODELS.is_dir() else PACKAGE_MODELS


def craft_int8_path() -> Path:
    """CRAFT's int8 activation ranges (``kseg.detect.int8``), beside the embedded models."""
    return models_dir() / "craft-int8.json"


def embedded_path() -> Path:
    return models_dir() / f"{EMBEDDED}.safetensors"


def official_path(name: str) -> Path:
    url = OFFICIAL[name][0]
    return cache_dir() / "sam" / url.rsplit("/", 1)[1]


@dataclass
class ModelInfo:
    name: str
    kind: str  # "text-sam" | "official"
    path: Path
    available: bool
    note: str

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "path": str(self.path),
                "available": self.available, "note": self.note}


EASYOCR_KOREAN = "easyocr-korean"


def easyocr_spec() -> dict:
    """EasyOCR's own record of its Korean recogniser (URL and the md5 it publishes)."""
    from easyocr import config

    return config.recognition_models["gen2"]["korean_g2"]


def easyocr_path() -> Path:
    return cache_dir() / "easyocr" / "korean_g2.pth"


def list_models() -> list[ModelInfo]:
    p = embedded_path()
    out = [ModelInfo(EMBEDDED, "text-sam", p, p.exists(),
                     "embedded default" if p.exists() else "missing: train it with `kseg train` (see models/README.md)")]
    for name, (url, sha, size) in OFFICIAL.items():
        op = official_path(name)
        out.append(ModelInfo(name, "official", op, op.exists(),
                             "pulled" if op.exists() else f"not downloaded ({size / 1e6:.0f} MB): `kseg models pull {name}`"))
    kp = models_dir() / "kseg-ocr.safetensors"
    out.append(ModelInfo("kseg-ocr", "recognizer", kp, kp.exists(),
                         "embedded Korean recogniser (--recognizer kseg)" if kp.exists()
                         else "missing: train it with `kseg train-ocr` (models/kseg-ocr.md)"))
    fp = models_dir() / "kseg-fill.safetensors"
    out.append(ModelInfo("kseg-fill", "style", fp, fp.exists(),
                         "embedded fill judge of the style stage" if fp.exists()
                         else "missing: train it with `kseg train-fill` (models/kseg-fill.md); the layer rule decides"))
    from kseg.detect.int8 import available as int8_kernels

    cp = craft_int8_path()
    kernels = int8_kernels("cpu")
    out.append(ModelInfo("craft-int8", "detector", cp, cp.exists() and kernels,
                         ("CRAFT's int8 activation ranges: the detector runs in int8 on the CPU" if kernels
                          else "this torch has no x86 int8 kernels: CRAFT runs in bfloat16 or float32")
                         if cp.exists() else
                         "missing: `python tools/calibrate_craft.py` (models/craft-int8.md); CRAFT runs in "
                         "bfloat16 or float32"))
    ep = easyocr_path()
    out.append(ModelInfo(EASYOCR_KOREAN, "recognizer", ep, ep.exists(),
                         "EasyOCR Korean recogniser" if ep.exists() else f"not downloaded: `kseg models pull {EASYOCR_KOREAN}`"))
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pull(name: str, progress=None, timeout: float = 30.0) -> Path:
    """Download an official checkpoint into the cache, verify its SHA-256, then move it in place."""
    if name == EASYOCR_KOREAN:
        return _pull_easyocr(progress, timeout)
    if name not in OFFICIAL:
        raise ModelError(f"unknown model {name!r}; pullable: {', '.join([*OFFICIAL, EASYOCR_KOREAN])}")
    url, sha, size = OFFICIAL[name]
    dest = official_path(name)
    if dest.exists() and sha256_file(dest) == sha:
        return dest
    _download(name, url, dest, progress, timeout, lambda tmp, digest: digest == sha,
              f"expected SHA-256 {sha}", size)
    return dest


def _pull_easyocr(progress, timeout: float) -> Path:
    """EasyOCR ships korean_g2.pth in a zip; the md5 EasyOCR publishes is of the .pth inside."""
    import zipfile

    spec = easyocr_spec()
    dest = easyocr_path()
    if dest.exists() and hashlib.md5(dest.read_bytes()).hexdigest() == spec["md5sum"]:
        return dest
    zdest = dest.with_suffix(".zip")

    def check(tmp: str, _sha: str) -> bool:
        with zipfile.ZipFile(tmp) as z:
            data = z.read(spec["filename"])
        if hashlib.md5(data).hexdigest() != spec["md5sum"]:
            return False
        part = dest.with_name(dest.name + ".part")
        part.write_bytes(data)
        os.replace(part, dest)
        return True

    try:
        _download(EASYOCR_KOREAN, spec["url"], zdest, progress, timeout, check,
                  f"expected md5 {spec['md5sum']} for {spec['filename']}", None)
    except zipfile.BadZipFile:
        raise ModelError(f"{EASYOCR_KOREAN}: the download is not a zip file; not installed") from None
    zdest.unlink(missing_ok=True)
    return dest


def _download(name: str, url: str, dest: Path, progress, timeout: float, verify, expected: str,
              size: int | None) -> None:
    """Stream url into a temp file beside dest; verify(tmp, sha256) decides; then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
            done = 0
            while chunk := r.read(1 << 20):
                f.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, size)
        if not verify(tmp, h.hexdigest()):
            raise ModelError(f"{name}: downloaded file failed its checksum ({expected}, got SHA-256 "
                             f"{h.hexdigest()[:12]}…); not installed")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise ModelError(f"cannot download {name} from {url} ({reason}); are you offline? "
                         f"Download it elsewhere, check it ({expected}), and put it in place "
                         f"(--model PATH, or {dest.parent})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_finite(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """A damaged or badly trained file whose weights hold NaN or infinity gives empty masks and
    garbage text without any error: refuse it when it is loaded instead."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelError(f"{path}: {len(bad)} weight tensors hold NaN or infinite values "
                         f"(e.g. {bad[0]}); the file is damaged: train or download it again")


def load_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata from .safetensors, or a plain state dict via weights_only torch.load
    (weights that are not finite are refused)."""
    sd, meta = _read_state_dict(path)
    check_finite(path, sd)
    return sd, meta


def _read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except ModelError:
        raise
    except Exception as e:  # corrupt, truncated, or a pickle with code in it
        raise ModelError(f"cannot load {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]  # kseg training checkpoints keep the weights under "model"
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path} is not a state dict of tensors")
    return obj, {}


def resolve(spec: str | None) -> tuple[str, Path, str]:
    """--model value -> (kind, path, label). kind is 'text-sam' or an official arch name."""
    spec = spec or EMBEDDED
    if spec == EMBEDDED:
        p = embedded_path()
        if not p.exists():
            raise ModelError(f"the embedded text-SAM model is missing ({p}); it is trained by `kseg train` "
                             "(see models/README.md), or pass --model vit_b|vit_l|vit_h|PATH")
        return "text-sam", p, EMBEDDED
    if spec in OFFICIAL:
        p = official_path(spec)
        if not p.exists():
            raise ModelError(f"{spec} is not downloaded; run `kseg models pull {spec}` (needs internet) "
                             "or pass --model PATH to a local copy")
        return spec, p, spec
    p = Path(spec)
    if not p.exists():
        raise ModelError(f"unknown model {spec!r}: not 'text-sam', an official name (vit_b, vit_l, vit_h) or an existing file")
    return "auto", p, p.name


def detect_kind(sd: dict[str, torch.Tensor], meta: dict[str, str]) -> str:
    if "kseg_config" in meta:
        return "text-sam"
    w = sd.get("image_encoder.patch_embed.proj.weight")
    if w is not None and w.shape[0] in _VIT_BY_WIDTH:
        return _VIT_BY_WIDTH[w.shape[0]]
    raise ModelError("unrecognised checkpoint: neither a kseg text-SAM (safetensors with kseg_config) "
                     "nor an official SAM ViT-B/L/H state dict")


def save_text_sam(sam, path: Path, extra_meta: dict | None = None) -> None:
    """Safetensors with the architecture config in its metadata, written atomically."""
    from safetensors.torch import save_file

    meta = {"kseg_config": sam.kseg_config.to_json(), "format": "kseg-text-sam-1"}
    meta.update({k: (v if isinstance(v, str) else json.dumps(v)) for k, v in (extra_meta or {}).items()})
    sd = {k: v.detach().contiguous().cpu() for k, v in sam.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(sd, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)  # a model file is meant to be shared, whatever the umask of the writer
    os.replace(tmp, path)
