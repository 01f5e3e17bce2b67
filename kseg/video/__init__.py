"""``kseg translate-video``: find the caption events of a video, translate each once, re-render.

    summary = translate_video("in.mp4", "out.mp4", translator="tm:memory.tsv", srt="out.en.srt")

Three stages, each resumable where it matters. By default (``overlap=True``) analysis runs in
a thread about 3 s (``LOOKBACK`` + 0.5) ahead of the renderer, and each event is translated
as soon as it is settled, with the events before it as context; ``overlap=False`` runs them
one after the other (translation then also sees the events after each one; on 2 cores up to
10 % slower on moving footage and 60-400 MB lighter at its peak at 1080p):

1. **analyse** (decode luma of every frame; RGB and the full image pipeline only at triggers):
   ``kseg.video.events.EventTracker`` gives caption events, each with its footprint mask,
   caption style (``kseg.style``) and Korean text. Finished events are appended to the state
   folder as they close.
2. **translate**: one request per event, with the neighbouring events as context; results are
   saved per batch, so a translator that fails mid-run loses nothing (``--resume``).
   ``srt:FILE`` takes the user's English subtitles instead, matched to events by time.
3. **render**: decode again; on each frame fill the live events' masks (cropped to the
   caption, so the cost is per caption, not per frame size; from earlier frames where the
   moving background showed the pixels, ``kseg.video.temporal``) and draw each event's English,
   laid out once (``kseg.render.prepare``) so it never flickers; only the box of the captions
   and their English goes through RGB, the rest of the frame goes to the encoder as decoded;
   encode; copy the audio.

State: ``OUT.kseg/`` next to OUT (``state.json``, ``events.jsonl``, ``masks/``,
``translations.jsonl``). It is kept when a run fails or is interrupted, and removed after a
complete run. ``--resume`` reuses the finished analysis (up to the last frame at which no
caption was open) and every saved translation; the video itself is re-encoded from the start
(encoding is the cheap part). Without ``--resume`` an old state folder is discarded.
"""
from __future__ import annotations

from kseg.video import io  # noqa: F401 - kseg.video.io, PyAV I/O
from kseg.video.analyse import Analysis, analyse, make_analyzer  # noqa: F401
from kseg.video.job import VideoOptions, translate_video  # noqa: F401
from kseg.video.state import State  # noqa: F401
