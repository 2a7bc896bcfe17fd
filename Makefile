# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready

.PHONY: run test demo benchmark clean

run: $(READY)  ## Execute the notebook end to end (training until solved); results in build/
	$(PY) scripts/run_notebook.py

test: $(READY)  ## Run the test suite
	$(PY) -m pytest tests

demo: $(READY)  ## No training: video, GIF and evaluation of the shipped model, in build/
	$(PY) scripts/demo.py

benchmark: $(READY)  ## Training speed: the course's loop against the notebook's
	$(PY) benchmarks/training_speed.py

# The virtual environment, made again whenever requirements.txt changes.
$(READY): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; choose it with PYTHON=python3.11")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(READY)

clean:
	rm -rf build videos/*.mp4 .pytest_cache
