# Two commands do all the set-up: `make run` and `make test`. `make` alone is `make run`; `make help`
# lists the targets (each rule's `##` comment).
.DEFAULT_GOAL := run
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
DEV_READY := $(VENV)/.dev-ready
CLUSTER_READY := $(VENV)/.cluster-ready

.PHONY: run help test grade compare test-browser check-platforms test-trixie test-colab test-arm64 test-python314 gradescope test-gradescope cluster-env test-cluster lint demo film play benchmark benchmark-grading benchmark-cluster clean

RUN ?=
run: $(READY)  ## Execute the notebook end to end (training until solved); results in build/ [RUN="--episodes 5"]
	$(PY) -m scripts.learner.run_notebook $(RUN)

help:  ## List the targets with what each does (make alone runs make run)
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  make %-18s %s\n", $$1, $$2 }'

# The tests spread over every core (pytest-xdist: one worker a core). Each module's tests run on
# one worker (--dist loadscope), so a module's costly fixture (a graded class, a notebook run) is
# made once, not once a worker.
TESTS ?= tests
test: $(READY)  ## Run the test suite on every core (TESTS="tests/test_x.py ..." runs some of it)
	$(PY) -m pytest -n auto --dist loadscope --durations=15 $(TESTS)

# The class grader: each graded cell in a sandbox, judged outside it. With no SUBMISSIONS, the
# notebook in this folder: a learner sees the grade it would get.
SUBMISSIONS ?= C3_W3_A1_Assignment.ipynb
GRADES ?= build/grades
grade: $(READY)  ## Grade notebooks: make grade SUBMISSIONS="folder-or-notebooks" [GRADES=build/grades]
	$(PY) -m grading $(SUBMISSIONS) --out $(GRADES)

# Gradescope's autograder: the same grader, as a zip for a programming assignment (docs/teaching.md).
GRADESCOPE ?=
gradescope: $(READY)  ## Gradescope's autograder zip, build/autograder.zip [GRADESCOPE="--visibility after_published"]
	$(PY) -m grading --gradescope build/autograder.zip $(GRADESCOPE)

test-browser: $(DEV_READY)  ## The learner's path in JupyterLab, in headless Chromium (needs Chromium)
	$(PY) -m pytest tests -m browser

check-platforms: $(DEV_READY)  ## Resolve the requirements for every supported platform and Python (uv)
	$(PY) -m scripts.maintainer.platforms.check

lint: $(DEV_READY)  ## ruff, with the configuration in pyproject.toml; actionlint on the hosted workflow
	$(PY) -m ruff check .
	$(VENV)/bin/actionlint .github/workflows/platforms.yml

test-trixie:  ## make test under Python 3.13 with our pins, in a Debian trixie chroot (root; a clean clone of HEAD)
	bash scripts/maintainer/platforms/trixie.sh

test-gradescope: $(READY)  ## The autograder zip end to end, in a fresh Debian system laid out as Gradescope's (root)
	$(PY) -m pytest tests -m gradescope

test-cluster: $(CLUSTER_READY)  ## compare and the class grader on a real 2-node Ray cluster on loopback, against local runs (root)
	$(PY) -m pytest tests -m cluster

test-colab:  ## The notebook and what differs in a runtime built like Google Colab's (its TensorFlow and Keras), in test-trixie's chroot (root)
	bash scripts/maintainer/platforms/colab.sh

test-python314:  ## make run and set-up's tests where the only Python is 3.14 (Debian forky chroot; set-up fetches 3.13 with uv; root)
	bash scripts/maintainer/platforms/python314.sh

test-arm64:  ## The platform tests on Linux aarch64, emulated, in a Debian arm64 chroot (root; a clean clone of HEAD)
	bash scripts/maintainer/platforms/arm64.sh

demo: $(READY)  ## No training: the shipped model's landing video (and with its Q-values), GIF and evaluation, in build/
	$(PY) -m scripts.learner.demo

# The film of learning (scripts/learner/film.py): the notebook's training, then a greedy flight from the
# Q-network of every 100th episode and of the solving one, all from one start.
FILM ?=
film: $(READY)  ## Film the training: a captioned flight every 100 episodes, build/film/film.mp4 and .gif: make film [FILM="--seed 3 --every 50"]
	$(PY) -m scripts.learner.film $(FILM)

# Fly the lander yourself with the arrow keys (scripts/learner/play.py; needs a screen).
PLAY ?=
play: $(READY)  ## Fly it yourself, then your points beside the networks' on the same start: make play [PLAY="--seed 5"]
	$(PY) -m scripts.learner.play $(PLAY)

# Settings compared over seeds (scripts/experimenter/compare.py); the default is a small example.
COMPARE ?= --variant GAMMA=0.99 --seeds 0 1 2 --episodes 300
compare: $(READY)  ## Compare settings over seeds, in parallel: make compare COMPARE="--variant ALPHA=5e-4 --seeds 0 1 2 3 4"
	$(PY) -m scripts.experimenter.compare $(COMPARE)

benchmark: $(READY)  ## Training speed: the course's loop against the notebook's
	$(PY) -m scripts.maintainer.benchmarks.training_speed

benchmark-grading: $(READY)  ## Grading speed: 40 submissions, against executing whole notebooks
	$(PY) -m scripts.maintainer.benchmarks.grading_speed

benchmark-cluster: $(CLUSTER_READY)  ## Through Ray: a 2-node cluster on loopback against the local pool, same compare and class (root)
	$(PY) -m scripts.maintainer.benchmarks.cluster_speed

# The virtual environment, made again whenever requirements.txt changes (scripts/learner/setup_env.py,
# which README's Windows commands call too). It stops with one line on an unsupported machine; on
# an unsupported Python it finds a supported one, or fetches Python 3.13 into .python/. PYTHON given
# (make run PYTHON=python3.13) is used as it is, or refused in one line.
SETUP_ENV = @command -v $(PYTHON) >/dev/null || { echo "PYTHON=$(PYTHON) is no program here: name a Python 3.11 to 3.13 (PYTHON=python3.13, or its path), or leave PYTHON out." >&2; exit 1; }; \
	$(PYTHON) -m scripts.learner.setup_env $(if $(filter-out file,$(origin PYTHON)),--chosen "$(PYTHON)")
$(READY): requirements.txt
	$(SETUP_ENV)

# Ray, for --address (compare and the class grader on a cluster): never installed by make run or make test.
cluster-env: $(CLUSTER_READY)  ## Add Ray (requirements-cluster.txt) to .venv, for --address; on every node of the cluster too

$(CLUSTER_READY): $(READY) requirements-cluster.txt
	$(SETUP_ENV) --cluster

# Test-only tools (Playwright, uv, ruff), on top of the learner's environment.
$(DEV_READY): $(READY) requirements-dev.txt
	$(SETUP_ENV) --dev

clean:  ## Remove build/, the notebook's videos, pytest's cache and set-up's own Python (.python/, with a .venv made from it)
	if grep -qs '$(CURDIR)/.python/' $(VENV)/pyvenv.cfg; then rm -rf $(VENV); fi
	rm -rf build videos/*.mp4 .pytest_cache .python
