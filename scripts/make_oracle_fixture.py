"""Write the recorded snnTorch runs that notebook 08 and exercise 08 use without torch.

    python scripts/make_oracle_fixture.py        # needs torch and snntorch (scripts/install_peers.sh)

Each file is what a researcher would save from a small snnTorch 1.0 network (two
``Linear`` + ``Leaky`` layers, 5-8-3, T = 25, batch 4, float64, cross-entropy on spike
counts), in ``refsnn compare``'s format, under ``refsnn/oracle/fixtures/``:

- ``snntorch_ok.npz``: the surrogate ``atan(alpha=2)`` as declared;
- ``snntorch_scale_bug.npz``: the planted bug: the code's surrogate uses ``alpha=4`` while
  the file (and the researcher) declares ``alpha=2``;
- ``snntorch_float32.npz``: snnTorch's stock ``atan`` surrogate, whose forward returns
  float32 spikes (cast back with ``.double()``): every ∂L/∂s is rounded to float32.
"""

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "refsnn" / "oracle" / "fixtures"


def record(alpha_used=2.0, stock_surrogate=False, seed=0):
    import torch
    import snntorch as snn
    from snntorch import surrogate

    class ATan64(surrogate.ATan):
        @staticmethod
        def forward(ctx, v, alpha):
            return surrogate.ATan.forward(ctx, v, alpha).to(v.dtype)

    torch.manual_seed(seed)
    fc = [torch.nn.Linear(5, 8).double(), torch.nn.Linear(8, 3).double()]
    with torch.no_grad():
        for f in fc:
            f.weight.mul_(2.0)
    grad = surrogate.atan(alpha=alpha_used) if stock_surrogate else (lambda v: ATan64.apply(v, alpha_used))
    lif = [snn.Leaky(beta=torch.tensor(0.9, dtype=torch.float64), learn_beta=True, spike_grad=grad) for _ in fc]
    x = 3 * torch.rand(25, 4, 5, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    mem, out = [l.reset_mem() for l in lif], []
    for t in range(25):
        s = x[t]
        for i in range(2):
            s, mem[i] = lif[i](fc[i](s), mem[i])
            s = s.double()              # a no-op unless the stock surrogate made float32 spikes
        out.append(s)
    spikes = torch.stack(out)
    loss = torch.nn.functional.cross_entropy(spikes.sum(0), y)
    loss.backward()
    arrays = {"preset": "snntorch.Leaky", "kwargs": json.dumps({"spike_grad": "atan", "alpha": 2.0}),
              "x": x, "loss": "ce_count", "target": y, "loss_value": loss.item(), "spikes": spikes}
    for i in range(2):
        for name, p in [("weight", fc[i].weight), ("bias", fc[i].bias), ("beta", lif[i].beta),
                        ("threshold", lif[i].threshold)]:
            arrays[f"param/{i}.{name}"] = p
            if p.grad is not None:
                arrays[f"grad/{i}.{name}"] = p.grad
    return {k: v.detach().numpy() if torch.is_tensor(v) else np.asarray(v) for k, v in arrays.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, kw in (("snntorch_ok", {}), ("snntorch_scale_bug", {"alpha_used": 4.0}),
                     ("snntorch_float32", {"stock_surrogate": True})):
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, **record(**kw))
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
