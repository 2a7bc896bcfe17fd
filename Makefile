# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
DEV_READY := $(VENV)/.dev-ready

.PHONY: run test test-browser check-platforms test-trixie demo benchmark clean

run: $(READY)  ## Execute the notebook end to end (training until solved); results in build/
	$(PY) scripts/run_notebook.py

test: $(READY)  ## Run the test suite
	$(PY) -m pytest tests

test-browser: $(DEV_READY)  ## The learner's path in JupyterLab, in headless Chromium (needs Chromium)
	$(PY) -m pytest tests -m browser

check-platforms: $(DEV_READY)  ## Resolve the requirements for every supported platform and Python (uv)
	cd scripts && ../$(PY) check_platforms.py

test-trixie:  ## make test under Python 3.13, in a Debian trixie chroot (root; a clean clone of HEAD)
	bash scripts/test_in_trixie.sh

demo: $(READY)  ## No training: video, GIF and evaluation of the shipped model, in build/
	$(PY) scripts/demo.py

benchmark: $(READY)  ## Training speed: the course's loop against the notebook's
	$(PY) benchmarks/training_speed.py

# The virtual environment, made again whenever requirements.txt changes (scripts/setup_env.py,
# which README's Windows commands call too). It stops with one line on an unsupported machine.
$(READY): requirements.txt
	$(PYTHON) scripts/setup_env.py

# Test-only tools (Playwright, uv), on top of the learner's environment.
$(DEV_READY): $(READY) requirements-dev.txt
	$(PYTHON) scripts/setup_env.py --dev

clean:
	rm -rf build videos/*.mp4 .pytest_cache
