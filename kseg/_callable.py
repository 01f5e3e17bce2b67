"""Callable stage modules: ``kseg.segment(image)`` next to ``kseg.segment.TextSegmenter``.

The issue asks for ``kseg.segment``/``erase``/``translate`` functions at the package top, and
the layout has stage packages of the same names; a package attribute cannot be both. A module
whose class has ``__call__`` can (Python allows assigning ``__class__`` on module objects for
exactly this, PEP 549's use case), so each of those modules calls the function of ``kseg.api``.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # looked up by name at call time: kseg.api runs on these very stage modules, so a static
        # import here would be a circle (tests/test_layout.py)
        api = importlib.import_module("kseg.api")
        return getattr(api, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


def install(name: str) -> None:
    """Make module ``name`` (kseg.segment, kseg.erase, kseg.translate) callable."""
    sys.modules[name].__class__ = CallableModule
