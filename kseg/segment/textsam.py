"""kseg's text-SAM: SAM's prompt encoder and mask decoder with a CPU-sized image encoder.

The way MobileSAM swapped ViT-H for a tiny encoder, we keep `segment_anything`'s
`Sam`, `PromptEncoder`, `MaskDecoder` and `TwoWayTransformer` unchanged and give
them a small convolutional encoder that sees caption *tiles* (a zoomed crop per
line, stacked into one canvas). Two things differ from SAM's ViT, both for text:
- stride 4 instead of 16, so the decoder's 4x upscaling lands at full tile
  resolution and thin strokes survive (Hi-SAM's motivation for its high-res head);
- any canvas size (a multiple of 16), because caption lines are long and thin and
  a 1024x1024 square would waste most of its pixels.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from segment_anything.modeling.common import LayerNorm2d

STRIDE = 4


@dataclass
class TextSamConfig:
    dim: int = 64  # transformer / embedding width
    widths: tuple[int, int, int, int] = (24, 48, 96, 160)
    depths: tuple[int, int, int] = (2, 3, 3)
    decoder_depth: int = 2
    decoder_heads: int = 4
    decoder_mlp: int = 256
    tile_h: int = 96
    refiner: int = 0  # channels of the edge refiner (refine.py); 0 = none (files from before it)
    refiner_dilations: tuple[int, ...] = (1, 2, 4, 1)
    refiner_context: int = 0  # channels of the refiner's line-context branch; 0 = none
    scorer: int = 0  # hidden units of the refined-mask scorer (scorer.py); 0 = none
    scorer_members: int = 1  # MLPs the scorer averages
    scorer_features: int = 1  # the scorer's feature set (scorer.FEATURES): 2 adds colour features

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, s: str) -> "TextSamConfig":
        d = json.loads(s)
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)


def _cba(cin: int, cout: int, k: int = 3, s: int = 1, d: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, padding=d * (k // 2), dilation=d, bias=False),
                         nn.BatchNorm2d(cout), nn.GELU())


class _Block(nn.Module):
    """Depthwise-separable residual block (cheap on CPUs); dilation widens context along a line."""

    def __init__(self, c: int, dilation: int = 1):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.pw1 = nn.Conv2d(c, 2 * c, 1)
        self.pw2 = nn.Conv2d(2 * c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(F.gelu(self.pw1(self.bn(self.dw(x)))))


class TextImageEncoder(nn.Module):
    """Canvas (B,3,H,W) -> embedding (B,dim,H/4,W/4); a small FPN brings 1/8 and 1/16 context down."""

    def __init__(self, cfg: TextSamConfig):
        super().__init__()
        w0, w1, w2, w3 = cfg.widths
        self.img_size = cfg.tile_h  # read by segment_anything's helpers; tiles are tile_h tall
        self.stem = _cba(3, w0, 3, 2)
        self.s4 = nn.Sequential(_cba(w0, w1, 3, 2), *[_Block(w1) for _ in range(cfg.depths[0])])
        self.s8 = nn.Sequential(_cba(w1, w2, 3, 2), *[_Block(w2) for _ in range(cfg.depths[1])])
        self.s16 = nn.Sequential(_cba(w2, w3, 3, 2), *[_Block(w3, d) for d in (1, 2, 4)[: cfg.depths[2]]])
        d = cfg.dim
        self.lat4, self.lat8, self.lat16 = nn.Conv2d(w1, d, 1), nn.Conv2d(w2, d, 1), nn.Conv2d(w3, d, 1)
        self.out = nn.Sequential(nn.Conv2d(d, d, 3, padding=1, bias=False), LayerNorm2d(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        p = self.lat16(f16)
        p = F.interpolate(p, size=f8.shape[-2:], mode="bilinear", align_corners=False) + self.lat8(f8)
        p = F.interpolate(p, size=f4.shape[-2:], mode="bilinear", align_corners=False) + self.lat4(f4)
        return self.out(p)


def _fused_attention_forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """segment_anything's Attention.forward with its explicit softmax(q k^T / sqrt d) v replaced by
    PyTorch's fused scaled_dot_product_attention: the same maths, but SAM's version spends most of
    the decoder's CPU time in a softmax over the ~7 prompt tokens for every image token."""
    q = self._separate_heads(self.q_proj(q), self.num_heads)
    k = self._separate_heads(self.k_proj(k), self.num_heads)
    v = self._separate_heads(self.v_proj(v), self.num_heads)
    return self.out_proj(self._recombine_heads(F.scaled_dot_product_attention(q, k, v)))


def use_fused_attention(sam: Sam) -> Sam:
    """Swap in the fused attention on every decoder Attention of this model instance only."""
    from types import MethodType

    from segment_anything.modeling.transformer import Attention

    for m in sam.mask_decoder.modules():
        if isinstance(m, Attention):
            m.forward = MethodType(_fused_attention_forward, m)
    return sam


def build_text_sam(cfg: TextSamConfig | None = None) -> Sam:
    cfg = cfg or TextSamConfig()
    d = cfg.dim
    th = cfg.tile_h
    sam = Sam(
        image_encoder=TextImageEncoder(cfg),
        prompt_encoder=PromptEncoder(embed_dim=d, image_embedding_size=(th // STRIDE, 4 * th // STRIDE),
                                     input_image_size=(th, 4 * th), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=cfg.decoder_depth, embedding_dim=d,
                                          mlp_dim=cfg.decoder_mlp, num_heads=cfg.decoder_heads),
            transformer_dim=d, iou_head_depth=3, iou_head_hidden_dim=d),
    )
    if cfg.refiner:
        from .refine import EdgeRefiner

        # a submodule of the Sam, so its weights travel in the same state dict / safetensors file
        sam.refiner = EdgeRefiner(cfg.refiner, cfg.refiner_dilations, cfg.refiner_context)
    if cfg.scorer:
        from .scorer import FEATURES, MaskScorer

        sam.scorer = MaskScorer(cfg.scorer, cfg.scorer_members, FEATURES[cfg.scorer_features])
    sam.kseg_config = cfg  # type: ignore[attr-defined]
    return use_fused_attention(sam)


def set_canvas(sam: Sam, h: int, w: int, stride: int) -> None:
    """Tell the prompt encoder the canvas size: SAM fixes it at build time, our canvases vary."""
    pe = sam.prompt_encoder
    pe.input_image_size = (h, w)
    pe.image_embedding_size = (h // stride, w // stride)


def decode(sam: Sam, emb: torch.Tensor, canvas_hw: tuple[int, int], stride: int,
           boxes: torch.Tensor | None = None, points: tuple[torch.Tensor, torch.Tensor] | None = None,
           mask_input: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched decoder call: N prompts on one embedding (or on N, see `run_decoder`)
    -> (N,3,h',w') logits, (N,3) IoU.

    The same call `SamPredictor.predict_torch` makes, without its 1024-square resizing.
    """
    set_canvas(sam, canvas_hw[0], canvas_hw[1], stride)
    sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
    return run_decoder(sam, emb, sparse, dense)


def run_decoder(sam: Sam, emb: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor):
    """SAM's mask decoder on (1,C,h,w), or on one embedding per prompt (N,C,h,w).

    segment_anything's decoder repeats a single image embedding for every prompt and adds the
    dense prompt embedding to it. Training decodes the prompts of a whole batch of canvases in
    one call (on a GPU, one call per canvas left it launch-bound): a zero image plus each
    prompt's own embedding in the dense term is the same sum, with no copy of its code.
    """
    if emb.shape[0] != 1:
        if emb.shape[0] != sparse.shape[0]:
            raise ValueError(f"{emb.shape[0]} embeddings for {sparse.shape[0]} prompts")
        emb, dense = emb.new_zeros((1,) + emb.shape[1:]), dense + emb
    return sam.mask_decoder(image_embeddings=emb, image_pe=sam.prompt_encoder.get_dense_pe(),
                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                            multimask_output=True)


def normalize(sam: Sam, canvas_uint8: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) uint8/float 0..255 -> SAM's normalised input (pixel_mean/std of the Sam module)."""
    return (canvas_uint8.float() - sam.pixel_mean) / sam.pixel_std
