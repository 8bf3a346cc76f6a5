"""The surrogate gradient's lie, measured: BPTT on the grid twin against EventProp as dt → 0.

    OMP_NUM_THREADS=1 python benchmarks/bench_eventprop_lie.py [--plot lie.png]

For the two-layer network of :func:`refsnn.checking.eventprop_lie.lie_problem` (τ_m = 10,
τ_s = 5, θ = 1, T = 30; 8 samples, 4 → 12 → 3, first-spike cross-entropy with τ_0 = 2) prints,
for every surrogate family at three scales and every dt, the cosine between refsnn's
surrogate-gradient BPTT gradient and EventProp's exact gradient, their relative error, the
norm ratio ‖g_sur‖/‖g_exact‖ and the gap between the two losses (the forward's own error).
"""

from __future__ import annotations

import argparse

from refsnn.checking.eventprop_lie import surrogate_vs_exact

DTS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    fams = sorted({(r[0], r[1]) for r in rows})
    for fam, k in fams:
        rr = [r for r in rows if r[0] == fam and r[1] == k]
        ax[0].semilogx([r[2] for r in rr], [r[3] for r in rr], marker="o", label=f"{fam} {k:g}")
        ax[1].loglog([r[2] for r in rr], [r[4] for r in rr], marker="o")
    ax[0].set_xlabel("dt (τ_s = 5)")
    ax[0].set_ylabel("cosine(surrogate BPTT, EventProp)")
    ax[1].set_xlabel("dt (τ_s = 5)")
    ax[1].set_ylabel("‖g_sur − g_exact‖ / ‖g_exact‖")
    ax[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", default=None, help="write the figure to this PNG file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = surrogate_vs_exact(DTS, seed=args.seed)
    print(f"{'surrogate':<12} {'scale':>6} {'dt':>6} {'cosine':>8} {'rel err':>9} {'norm ratio':>10} {'loss gap':>9}")
    for fam, k, dt, cos, rel, ratio, gap in rows:
        print(f"{fam:<12} {k:6g} {dt:6g} {cos:8.4f} {rel:9.3g} {ratio:10.3g} {gap:9.2e}")
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
