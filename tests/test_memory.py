"""refsnn._memory: ``import refsnn`` keeps freed memory in the process (glibc), so that
the (T, B, N) arrays of each step are not faulted in afresh; REFSNN_KEEP_FREED_MEMORY=0
leaves glibc's own settings. What it saves in time is measured by
benchmarks/bench_memory.py; these tests check that the setting is made, that it can be
turned off, and what it does to page faults (counts, not times)."""

import json
import os
import subprocess
import sys

import pytest

from refsnn import _memory

CHILD = r"""
import json, resource
import numpy as np
from refsnn import _memory
from refsnn.losses import spike_count_cross_entropy
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network, network_backward, network_forward, network_init
net = Network((LIFConfig(50, 256), LIFConfig(256, 10)))
params = network_init(net, 0, np.float64)
x = (np.random.default_rng(0).random((100, 64, 50)) < 0.2).astype(np.float64)
faults = []
for _ in range(4):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    trajs = network_forward(net, params, x)
    loss = spike_count_cross_entropy(trajs[-1], np.arange(64) % 10)
    network_backward(trajs, params, ds=[None, loss.ds])
    del trajs, loss
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(json.dumps({"state": _memory.state, "faults": min(faults[1:])}))
"""


def _child(value, T=100):
    env = {**os.environ, _memory.ENV: value, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD.replace("(100, 64, 50)", f"({T}, 64, 50)")], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


glibc = pytest.mark.skipif(_memory._glibc() is None, reason="the C library is not glibc")


@glibc
def test_import_keeps_freed_memory_and_the_environment_can_turn_it_off():
    on, off = _child("1"), _child("0")
    assert on["state"] == {"applied": True, "reason": "set"}
    assert off["state"] == {"applied": False, "reason": f"{_memory.ENV}=0"}
    # Each step allocates and frees several 12.5 MiB arrays: with glibc's own settings
    # the freed heap top is given back and faulted in again the next step (thousands of
    # 4 KiB pages); kept, a repeated step faults (almost) nothing.
    assert off["faults"] > 1000, off
    assert on["faults"] < off["faults"] / 20, (on, off)


@glibc
def test_arrays_above_the_mmap_threshold_are_reused_too():
    # At T = 400 each (T, B, N) float64 array is 50 MiB, above glibc's largest mmap
    # threshold (32 MiB): such blocks used to be mapped afresh and faulted in at every
    # step (thousands of faults); from the heap (M_MMAP_MAX = 0) a repeated step reuses them.
    on, off = _child("1", T=400), _child("0", T=400)
    assert off["faults"] > 1000, off
    assert on["faults"] < off["faults"] / 20, (on, off)


@pytest.mark.parametrize("kw", [{"mmap_threshold": 0}, {"trim_threshold": 2 ** 31}, {"trim_threshold": True},
                                {"mmap_threshold": 1.5}, {"mmap_max": -1}, {"mmap_max": 0.5}])
def test_keep_freed_memory_refuses_bad_thresholds(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        _memory.keep_freed_memory(**kw)
