"""Print, per preset case of tests/test_peers.py, the worst relative error against the real library.

    python scripts/measure_presets.py

Needs torch and the peers (scripts/install_peers.sh). The error is
refsnn.oracle.compare.rel_error with the tests' floor (1e-3 of each array's largest entry),
the worst over the last layer's membranes and every gradient; spikes must be identical.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402

import test_peers as tp  # noqa: E402


def main():
    print(f"{'preset':<32} {'arguments':<62} {'spikes':>8} {'worst rel':>10}  where")
    worst_per = {}
    for preset, kw in tp.CASES:
        res, run, worst = tp.measure(preset, **kw)
        same = np.array_equal(run.spikes[-1], res.spikes)
        k = max(worst, key=worst.get)
        args = ", ".join(f"{a}={b}" for a, b in kw.items() if a not in ("x_scale", "w_gain"))
        print(f"{preset:<32} {args:<62} {'same' if same else 'DIFFER':>8} {worst[k]:10.1e}  {k}")
        worst_per[preset] = max(worst_per.get(preset, 0.0), worst[k])
    print()
    for p, w in worst_per.items():
        print(f"{p:<32} worst {w:.1e}")


if __name__ == "__main__":
    main()
