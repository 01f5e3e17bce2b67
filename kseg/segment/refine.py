"""Edge refiner: text-SAM's high-resolution mask head, run at the frame's own pixels.

Why it exists: SAM's decoder answers at tile resolution, from an image zoomed to a
fixed tile height, and most of text-SAM's remaining error lies within 1.5 px of the
stroke edges (anti-aliasing, soft shadows, thin outlines), worst on small captions whose
tiles were zoomed in. Hi-SAM fixed the same loss of stroke detail with a higher-resolution
mask head; ours is a small residual CNN that sees the frame's real pixels next to the
decoder's logits pasted back onto the frame, and corrects the logits there. Its last layer
starts at zero, so an untrained refiner changes nothing. No library ships such a head for
`segment_anything`'s decoder, hence this module.

Its optional context branch answers what 19 px of receptive field cannot: whether this
*line* has a shadow or sits on a plate. A black shadow on a black banner, or on a dark
scene, is invisible where it lies, so without context the head learned the average answer
("white text usually has a drop shadow") and haloed every news banner's text. The branch
looks at the whole line window at quarter resolution, pools it into one vector, and
modulates the dense layers with it (FiLM), so a shadow seen on one bright patch of the
line, or a flat plate around all of it, informs every pixel.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

FLOOR = -4.0  # logits below this, far from any candidate pixel, are left alone


class EdgeRefiner(nn.Module):
    """(image, logits) at frame resolution -> corrected logits (logits + a learned residual)."""

    def __init__(self, channels: int = 16, dilations: tuple[int, ...] = (1, 2, 4, 1), context: int = 0):
        super().__init__()
        c = channels
        layers: list[nn.Module] = [nn.Conv2d(4, c, 3, padding=1), nn.ReLU()]
        for d in dilations:
            layers += [nn.Conv2d(c, c, 3, padding=d, dilation=d), nn.ReLU()]
        layers.append(nn.Conv2d(c, 1, 1))
        self.body = nn.Sequential(*layers)
        self.radius = 1 + sum(dilations)  # receptive radius in frame pixels
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)
        self.context = context
        if context:
            k = context
            # quarter resolution, receptive radius (1 + 2 + 4 + 8) * 4 = 60 frame px before pooling
            self.ctx = nn.Sequential(nn.Conv2d(4, k, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(k, k, 3, padding=2, dilation=2), nn.ReLU(),
                                     nn.Conv2d(k, k, 3, padding=4, dilation=4), nn.ReLU(),
                                     nn.Conv2d(k, k, 3, padding=8, dilation=8), nn.ReLU())
            # (scale, shift) for the first and the last hidden layer; zero: starts as no context
            self.film = nn.Linear(2 * k, 4 * c)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)
        # channels-last: oneDNN's fast path for small dense convs (the same maths, faster);
        # load_state_dict copies into these parameters and keeps their layout
        self.to(memory_format=torch.channels_last)

    @staticmethod
    def _input(image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return torch.cat([(image - 128.0) / 64.0, logits.clamp(-10, 10)[:, None] / 5.0], 1)

    def line_context(self, image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """One line window (1,3,H,W), (1,H,W) -> its context vector (1, 2k): mean and max pooled."""
        x = F.avg_pool2d(self._input(image, logits), 4, ceil_mode=True)
        f = self.ctx(x)
        return torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1)

    def forward(self, image: torch.Tensor, logits: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """image (B,3,H,W) float 0..255, logits (B,H,W) -> (B,H,W).

        ``context`` (B, 2k) comes from :meth:`line_context` over the whole line window; when
        omitted it is computed from these inputs (one window per call)."""
        x = self._input(image, logits).contiguous(memory_format=torch.channels_last)
        if not self.context:
            return logits + self.body(x)[:, 0]
        if context is None:
            context = self.line_context(image, logits)
        s1, b1, s2, b2 = self.film(context)[:, :, None, None].chunk(4, 1)
        layers = list(self.body)
        h = layers[1](layers[0](x)) * (1 + s1) + b1
        for m in layers[2:-1]:
            h = m(h)
        return logits + layers[-1](h * (1 + s2) + b2)[:, 0]


def window_tensors(image: np.ndarray, logits: np.ndarray, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(h,w,3) uint8 and (h,w) logits -> (1,3,h,w) and (1,h,w) float tensors, the refiner's inputs."""
    # torch.tensor copies, so a read-only array (a decoder's frame) is fine without a warning
    img = torch.tensor(image, dtype=torch.float32, device=dev).permute(2, 0, 1)[None]
    return img, torch.tensor(logits, dtype=torch.float32, device=dev)[None]


@torch.inference_mode()
def refine_window(refiner: EdgeRefiner, image: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Refine pasted logits (h,w) over the matching image (h,w,3) uint8.

    Only the box around the candidate pixels (logit > FLOOR), grown by the receptive radius,
    is computed:
    the rest of a tile's rectangle is background the decoder is sure of, and skipping it
    keeps the head's cost to the size of the line rather than of its context.
    """
    ys, xs = np.nonzero(logits > FLOOR)
    if len(ys) == 0:
        return logits
    h, w = logits.shape
    r = refiner.radius
    y0, y1 = max(0, ys.min() - r), min(h, ys.max() + 1 + r)
    x0, x1 = max(0, xs.min() - r), min(w, xs.max() + 1 + r)
    dev = next(refiner.parameters()).device
    # the context reads the whole window, as in training: the line's shadow and plate
    ctx = refiner.line_context(*window_tensors(image, logits, dev)) if refiner.context else None
    img, lg = window_tensors(image[y0:y1, x0:x1], logits[y0:y1, x0:x1], dev)
    out = logits.copy()
    out[y0:y1, x0:x1] = refiner(img, lg, ctx)[0].cpu().numpy()
    return out
