"""The documentation a user reads matches the program: every option of every command is in
docs/commands.md, the README stays short and its links resolve."""
from __future__ import annotations

import re
from pathlib import Path

import typer

from kseg.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _commands(group, prefix=""):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a sub-group (kseg models ...)
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_every_option_is_in_the_command_reference():
    doc = (ROOT / "docs" / "commands.md").read_text()
    missing = []
    for name, cmd in _commands(typer.main.get_command(app)):
        assert f"kseg {name}" in doc, f"kseg {name} has no section"
        for p in cmd.params:
            opts = [o for o in p.opts + p.secondary_opts if o.startswith("--") and o not in ("--help",)]
            if opts and not any(o in doc for o in opts):
                missing.append(f"kseg {name} {opts[0]}")
    assert not missing, missing


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 12 * 1024
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), target
    for doc in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name}: {target}"
