#!/usr/bin/env bash
# The notebook and what differs in a runtime built like Google Colab's: Python 3.13 (the Debian
# trixie system that make test-trixie uses, made once with debootstrap), Colab's versions of the
# packages that matter here (scripts/maintainer/platforms/colab_runtime.txt: TensorFlow's full package, Keras
# 3.13, numpy 2.1, gym 0.25.2...) and a stand-in google.colab module, so that the notebook sees
# Colab. In a chroot, on a clean clone of this repository's committed HEAD:
#   1. the notebook, top to bottom with nbclient, as a learner on Colab runs it: the set-up cell
#      first, a short training, the shipped network watched (scripts/maintainer/platforms/colab_notebook.py);
#   2. the tests of what Colab's versions change (COLAB_TESTS: model files across Keras versions,
#      quiet TensorFlow, the set-up cell, the graders' judging), with OTHER_KERAS_PYTHON naming a
#      second Python that has the pinned requirements (Keras 3.15), so that models cross between the
#      two Keras versions. The rest of the suite runs under Python 3.13 with our pins in make test-trixie.
# Needs root and the package registries. The system and both Pythons are kept in $TRIXIE_DIR for the
# next run; Colab's packages are put back as Colab has them before each run.
set -euo pipefail
COLAB=/opt/colab  # Colab's Python, inside the chroot
PINS=/opt/pins    # the pinned requirements' Python, inside the chroot
EPISODES=${COLAB_EPISODES:-5}
# The tests to run there (pytest arguments): those whose outcome Colab's versions can change.
COLAB_TESTS=${COLAB_TESTS:-tests/test_model_files.py tests/test_quiet_tensorflow.py tests/test_colab_setup.py \
tests/test_grader.py tests/test_grader_catalogue.py tests/test_widgets.py}

# Inside the chroot, in the clone: make or restore both Pythons, run the notebook, then the tests.
inside() {
  local started=$SECONDS wanted site extra
  if ! command -v cc >/dev/null; then  # Colab has a C compiler; a test builds stand-in driver libraries
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }
  fi
  mapfile -t testing < <(grep -E '^(hypothesis|pytest-xdist|execnet)==' requirements.txt)  # the tests' own tools
  wanted=$(cat scripts/maintainer/platforms/colab_runtime.txt <(printf '%s\n' "${testing[@]}") | sha256sum | cut -c1-16)
  if [ "$(cat "$COLAB/.made-from" 2>/dev/null)" != "$wanted" ]; then
    echo "Making Colab's Python in $COLAB (scripts/maintainer/platforms/colab_runtime.txt, and ${testing[*]} for the tests)..."
    rm -rf "$COLAB"
    python3 -m venv "$COLAB"
    "$COLAB/bin/pip" install -q -r scripts/maintainer/platforms/colab_runtime.txt "${testing[@]}"
    "$COLAB/bin/pip" freeze >"$COLAB/colab.freeze"
    echo "$wanted" >"$COLAB/.made-from"
  else  # what the last run's set-up cell installed goes; Colab's own versions come back
    extra=$(comm -13 <(sed 's/==.*//' "$COLAB/colab.freeze" | tr 'A-Z_' 'a-z-' | sort) \
                     <("$COLAB/bin/pip" freeze | sed 's/==.*//' | tr 'A-Z_' 'a-z-' | sort))
    if [ -n "$extra" ]; then "$COLAB/bin/pip" uninstall -q -y $extra; fi
    "$COLAB/bin/pip" install -q -r "$COLAB/colab.freeze"
  fi
  site=$("$COLAB/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mkdir -p "$site/google/colab"
  echo '"""Stand-in for Colab'"'"'s google.colab: the notebook'"'"'s set-up cell only asks whether it imports."""' \
    >"$site/google/colab/__init__.py"
  printf '%s\n' '"""Stand-in for Colab'"'"'s google.colab.output: the set-up cell turns on its widget manager."""' \
    '' '' 'def enable_custom_widget_manager():' '    """Colab lets its page load the widgets'"'"' own code (anywidget'"'"'s); nothing to do here."""' \
    >"$site/google/colab/output.py"
  wanted=$(sha256sum requirements.txt | cut -c1-16)
  if [ "$(cat "$PINS/.made-from" 2>/dev/null)" != "$wanted" ]; then
    echo "Making the pinned requirements' Python in $PINS..."
    rm -rf "$PINS"
    python3 -m venv "$PINS"
    "$PINS/bin/pip" install -q -r requirements.txt
    echo "$wanted" >"$PINS/.made-from"
  fi
  echo "Colab's Python: $("$COLAB/bin/python" -c 'import keras, numpy, tensorflow as tf, gym
print(f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {numpy.__version__}, gym {gym.__version__}")' \
    2>/dev/null); ready after $((SECONDS - started)) s."

  rm -rf /root/learner
  "$PINS/bin/python" -c 'from scripts.notebook_tools import copy_learner_files; copy_learner_files("/root/learner")'
  "$COLAB/bin/python" -m scripts.maintainer.platforms.colab_notebook /root/learner build/colab --episodes "$EPISODES"
  echo "The notebook ran in $((SECONDS - started)) s so far; now the tests, in Colab's Python."
  OTHER_KERAS_PYTHON="$PINS/bin/python" "$COLAB/bin/python" -m pytest -n auto --dist loadscope $COLAB_TESTS \
    -p no:cacheprovider
  echo "Colab-like runtime: notebook and tests passed in $((SECONDS - started)) s."
}

if [ "${1:-}" = --inside ]; then
  inside
  exit
fi
# shellcheck source=scripts/maintainer/platforms/chroot_common.sh
source "$(dirname "$0")/chroot_common.sh"

started=$SECONDS
in_trixie /root/colab-project \
  "$WHERE && COLAB_EPISODES=$EPISODES COLAB_TESTS='$COLAB_TESTS' bash scripts/maintainer/platforms/colab.sh --inside"
echo "Colab-like runtime (Python 3.13, Debian trixie): $((SECONDS - started)) s in all."
