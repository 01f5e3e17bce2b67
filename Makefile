# kseg: set-up, demo, tests and benchmarks.
#
#   make demo    # set-up, then segment / erase / translate the examples and translate-video the clip
#   make test    # set-up, then the test suite
#   make bench   # stage timings (bench/)
#
# Set-up (`make setup`, run by demo/test) is idempotent: Debian packages are installed
# only when missing (apt-get, as root or with passwordless sudo; otherwise the exact
# command is printed and set-up goes on), .venv is created once, and pip runs again
# only when pyproject.toml or constraints.txt change (stamp file .venv/.kseg-setup).
#
# Variables: PYTHON (interpreter for the venv, default python3), VENV (default .venv),
# TORCH_INDEX (extra pip index for torch, e.g. https://download.pytorch.org/whl/cpu for
# a CPU-only build), KSEG_ARGS (extra options for the demo, e.g. --model vit_b),
# BENCH_ARGS (options for bench/bench_segment.py, e.g. --runs 3 --skip-vit).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.kseg-setup
TORCH_INDEX ?=
KSEG_ARGS ?=
BENCH_ARGS ?=
DEMO_OUT ?= out

APT_PACKAGES := tesseract-ocr tesseract-ocr-kor fonts-nanum fonts-nanum-extra fonts-noto-cjk \
                fonts-unfonts-core fonts-baekmuk ffmpeg

# The broadcast data engine (kseg.synth.broadcast, `kseg train-ocr --engine broadcast|mix`) also
# draws with these Debian faces and the npm display families tools/fetch_fonts.py merges into
# .cache/fonts/ttf (docs/fonts.md lists them and their licences). Training only: `make fonts`.
FONT_PACKAGES := fonts-woowa-bm fonts-alee fonts-lexi-gulim fonts-lexi-saebom fonts-nanum-eco \
                 fonts-naver-d2coding fonts-noto-cjk-extra fonts-unfonts-extra

.PHONY: help setup system-deps demo test test-fast bench examples clean-setup fonts

help:
	@echo "make demo     set up, then segment, erase, translate examples/*.png and translate-video"
	@echo "              examples/clip.mp4 into $(DEMO_OUT)/"
	@echo "make test     set up, then run the tests"
	@echo "make setup    Debian packages ($(APT_PACKAGES)),"
	@echo "              $(VENV) with torch/torchvision from constraints.txt and kseg[test]"
	@echo "make bench    stage timings (bench/bench_detect.py, bench/bench_segment.py)"
	@echo "make examples re-render examples/*.png from kseg.synth"
	@echo "make fonts    the broadcast engine's extra faces (Debian packages + npm display families)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	@if [ ! -x "$(PY)" ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	    { echo "kseg needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) -V 2>&1). Use: make PYTHON=python3.11 ..." >&2; exit 1; }; \
	  echo "+ $(PYTHON) -m venv $(VENV)"; \
	  $(PYTHON) -m venv $(VENV) || { rm -rf "$(VENV)"; \
	    echo "could not create $(VENV); on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }; \
	fi
	$(PIP) install -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch torchvision
	$(PIP) install -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[test]'
	@touch $@
	@echo "set-up done: $(VENV)/bin/kseg"

# Installs the missing Debian packages when it can; otherwise says what to run and goes on
# (the tests that need Tesseract skip, kseg synth says which fonts are missing).
system-deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	  done; \
	  $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || [ -x "$(PY)" ] || missing="$$missing python3-venv"; \
	else \
	  echo "kseg set-up: no dpkg here; install the equivalents of: $(APT_PACKAGES)" >&2; exit 0; \
	fi; \
	missing="$${missing# }"; \
	if [ -z "$$missing" ]; then echo "system packages: all present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else \
	  echo "kseg set-up: missing Debian packages: $$missing" >&2; \
	  echo "kseg set-up: not root and no passwordless sudo, so please run:" >&2; \
	  echo "    sudo apt-get update && sudo apt-get install -y $$missing" >&2; \
	  echo "kseg set-up: continuing without them (Tesseract tests skip, Korean rendering needs the fonts)" >&2; \
	  exit 0; \
	fi; \
	echo "+ $${sudo:+$$sudo }apt-get update && apt-get install -y $$missing"; \
	if $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	   $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; then \
	  echo "system packages: installed $$missing"; \
	else \
	  echo "kseg set-up: apt-get failed; install by hand: apt-get install -y $$missing (continuing)" >&2; \
	fi

demo: setup
	$(VENV)/bin/kseg segment examples/*.png -o $(DEMO_OUT) --json $(KSEG_ARGS)
	$(VENV)/bin/kseg erase examples/*.png -o $(DEMO_OUT) $(KSEG_ARGS)
	$(VENV)/bin/kseg translate examples/*.png -o $(DEMO_OUT)/en --translator tm:examples/examples.tm.tsv $(KSEG_ARGS)
	$(VENV)/bin/kseg translate-video examples/clip.mp4 -o $(DEMO_OUT)/clip.en.mp4 --translator tm:examples/clip.tm.tsv \
	  --srt $(DEMO_OUT)/clip.en.srt --srt-source $(DEMO_OUT)/clip.ko.srt $(KSEG_ARGS)
	@echo
	@echo "outputs in $(DEMO_OUT)/: NAME.mask.png (255 = caption ink), NAME.overlay.png (to look at),"
	@echo "NAME.json (boxes, text, SAM's IoU predictions; compare with examples/NAME.truth.json),"
	@echo "NAME.erased.png (captions removed), en/NAME.en.png + en/NAME.json (English captions),"
	@echo "clip.en.mp4 (the clip with English captions and its sound), clip.en.srt, clip.ko.srt"

test: setup
	$(PY) -m ruff check kseg tests bench tools
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/bench_detect.py
	$(PY) bench/bench_segment.py $(BENCH_ARGS)
	$(PY) bench/bench_erase.py
	$(PY) bench/bench_style.py
	$(PY) bench/bench_render.py
	$(PY) bench/bench_video.py

fonts: setup
	@if [ "$$(id -u)" = 0 ]; then env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(FONT_PACKAGES); \
	else echo "as root: apt-get install -y $(FONT_PACKAGES)" >&2; fi
	$(PIP) install -c constraints.txt -e '.[train]'
	$(PY) tools/fetch_fonts.py

examples: setup
	$(PY) examples/make_examples.py

# Forces the next `make setup` to run pip again (keeps .venv).
clean-setup:
	rm -f $(STAMP)
