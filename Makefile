# Two commands matter: `make run` and `make test`. Both build .venv on first use.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# On a machine without an NVIDIA driver, take the CPU build of torch (on disk here) before the
# project's range could pull a multi-GB CUDA build.
TORCH_CPU_PIN := torch==2.13.0

.PHONY: run test lint ffmpeg postgres xtools bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install --quiet $(TORCH_CPU_PIN); fi
	$(PY) -m pip install --quiet -e '.[dev,cluster]'
	touch $(STAMP)

# The tests make H.264 clips with B-frames using the system ffmpeg.
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq ffmpeg >/dev/null; }

# The store tests also run against a real, throwaway PostgreSQL cluster that they start themselves
# (initdb + pg_ctl as an unprivileged user, loopback, a free port); Debian keeps those binaries
# under /usr/lib/postgresql/<major>/bin.
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# The real-X tests (tests/realx) drive the app under Xvfb with xdotool; Qt's xcb platform plugin
# needs the XCB libraries below.
XPKGS := xvfb xdotool libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
         libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libegl1
xtools:
	@{ command -v Xvfb && command -v xdotool && dpkg -s $(XPKGS); } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(XPKGS) >/dev/null; }

run: $(STAMP)
	$(PY) main.py

lint: $(STAMP)
	$(VENV)/bin/ruff check core gui tests benchmarks main.py
	$(VENV)/bin/ruff format --check core gui tests benchmarks main.py
	$(VENV)/bin/mypy core

test: $(STAMP) ffmpeg postgres xtools lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/inference.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
