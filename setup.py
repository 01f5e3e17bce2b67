"""setuptools hook: the embedded models (models/*.safetensors, CRAFT's int8 ranges and the cards) go into the wheel
as package data (kseg/_models), so `pip install .` / `pipx install .` works from any folder.

Why a hook and not package-data: the models stay in models/ at the top of the repository
(where the cards and the README point), outside the kseg package.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"


class BuildWithModels(build_py):
    def run(self) -> None:
        super().run()
        dst = Path(self.build_lib) / "kseg" / "_models"
        dst.mkdir(parents=True, exist_ok=True)
        for p in sorted(MODELS.glob("*")):
            if p.suffix in (".safetensors", ".md") or p.name == "craft-int8.json":
                shutil.copy2(p, dst / p.name)


setup(cmdclass={"build_py": BuildWithModels})
