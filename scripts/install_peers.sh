#!/usr/bin/env bash
# Install the peer libraries that tests/test_peers.py runs against, beside the torch that is
# already installed (the `peer` extra pins torch==2.13.0, CPU).
#
# Their metadata cannot be installed as declared: spikingjelly 2.0.0 declares torchvision,
# torchaudio, tensorboard and SciencePlots, norse 1.1.0 torchvision, nirtorch 2.6 an unpinned
# torch. Installed normally they pull in a CUDA torch of several GB, and torchvision from the
# registry does not import beside torch 2.13.0. Their neuron modules need none of that, so the
# three libraries (and nirtorch) go in with --no-deps, followed by what they really import.
# `--no-deps` cannot be written in a pyproject extra; this script is the one install step, and
# the README's test command and .ci/run call it.
set -euo pipefail
PY=${PYTHON:-python}
before=$("$PY" -c "import torch; print(torch.__version__)")
"$PY" -m pip install --no-deps snntorch==1.0.0 spikingjelly==2.0.0 norse==1.1.0 nirtorch==2.6
"$PY" -m pip install "nir==1.0.8" loguru h5py packaging
after=$("$PY" -c "import torch; print(torch.__version__)")
if [ "$before" != "$after" ]; then
    echo "install_peers.sh: torch changed from $before to $after" >&2
    exit 1
fi
"$PY" -c "import snntorch, norse.torch, nir, nirtorch; from spikingjelly.activation_based import neuron; \
print('peers installed: snntorch', snntorch.__version__, '| spikingjelly 2.0.0 | norse 1.1.0 | nir', nir.__version__, '| torch $after')"
