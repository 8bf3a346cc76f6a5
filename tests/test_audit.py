"""refsnn audit: every known peer bug reproduced on the pinned versions (snntorch 1.0.0, spikingjelly 2.0.0,
norse 1.1.0, nir 1.0.8, nirtorch 2.6); the status of each is asserted, and two reproducers are shown to flip
when the peer is patched to the fixed behaviour (so the check is numerical, not a version check)."""

import numpy as np
import pytest

from refsnn.oracle import peers

for _mod in ("torch", "snntorch", "norse", "spikingjelly", "nir"):
    if peers.available(_mod):
        pytest.skip(peers.available(_mod), allow_module_level=True)

from refsnn.oracle import audit  # noqa: E402

PINNED = {"snntorch": "1.0.0", "spikingjelly": "2.0.0", "norse": "1.1.0", "nir": "1.0.8", "nirtorch": "2.6"}

EXPECTED = {
    "snntorch-427": "present", "snntorch-422": "present", "snntorch-341": "present", "snntorch-358": "absent",
    "snntorch-323": "present", "snntorch-416": "present", "snntorch-435": "present", "snntorch-delay": "present",
    "snntorch-pool": "present", "norse-403": "present", "norse-306": "absent", "norse-411": "present",
    "spikingjelly-pr413": "absent", "spikingjelly-386": "absent",
}


@pytest.fixture(scope="module")
def findings():
    return {f.key: f for f in audit.run_audit()}


def test_the_pinned_versions_are_installed():
    from importlib.metadata import version
    assert {k: version(k) for k in PINNED} == PINNED


def test_every_reproducer_has_its_expected_status(findings):
    assert set(findings) == set(EXPECTED)
    assert {k: f.status for k, f in findings.items()} == EXPECTED


def test_measured_errors(findings):
    f = findings
    assert f["snntorch-427"].error > 0                                  # NaN entries counted
    assert 1e-7 < f["snntorch-422"].error < 1e-4                         # float32 spikes on ∂L/∂x
    assert "peers.float64_spike_grad, " in f["snntorch-422"].detail
    assert f["snntorch-341"].error > 0.1
    assert f["snntorch-358"].error < 1e-12
    assert "RLeaky 0.00e+00" in f["snntorch-323"].detail and "leaking: RSynaptic" in f["snntorch-323"].detail
    assert "β = 0.9 per step" in f["snntorch-416"].detail
    assert f["norse-403"].error > 0.5 and "to 0.0e+00" in f["norse-403"].detail
    assert f["norse-411"].error > 1 and "convention='norse' they match" in f["norse-411"].detail
    assert f["spikingjelly-pr413"].error < 1e-12 and f["spikingjelly-386"].error < 1e-12


def test_reproducers_flip_when_the_peer_is_fixed(monkeypatch):
    import torch
    from norse.torch.functional import superspike
    from snntorch import surrogate as sgm

    def stable_backward(ctx, grad_output):               # the overflow-free logistic derivative
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.slope * x)
        return grad_output * ctx.slope * s * (1 - s), None

    monkeypatch.setattr(sgm.Sigmoid, "backward", staticmethod(stable_backward))
    present, err, *_ = audit._snn_sigmoid_nan()
    assert not present and err == 0

    def alpha_backward(ctx, grad_output):                # 1/(α|x| + 1)², as documented
        (inp,) = ctx.saved_tensors
        return grad_output / (ctx.alpha * torch.abs(inp) + 1.0).pow(2), None

    monkeypatch.setattr(superspike.SuperSpike, "backward", staticmethod(alpha_backward))
    present, err, *_ = audit._norse_superspike_alpha()
    assert not present and err < 1e-12


def test_cli(capsys):
    from refsnn.cli import main
    assert main(["audit", "--only", "norse-403", "--only", "spikingjelly-pr413"]) == 0
    out = capsys.readouterr().out
    assert "[PRESENT] norse-403" in out and "[ABSENT ] spikingjelly-pr413" in out
    assert "2 reproducers: 1 present, 1 absent, 0 skipped" in out
    assert main(["audit", "--only", "nosuch"]) == 2
    assert "--only names no reproducer" in capsys.readouterr().err


def test_a_reproducer_that_cannot_run_is_reported_not_raised(monkeypatch, capsys):
    def broken():
        raise AttributeError("module 'snntorch.surrogate' has no attribute 'sigmoid'")
    monkeypatch.setattr(audit, "REPRODUCERS", [("snntorch-427", "snntorch", "t", "b", broken)])
    (f,) = audit.run_audit()
    assert f.status == "error" and "AttributeError" in f.detail
    assert "1 could not run" in audit.format_report([f])
    from refsnn.cli import main
    assert main(["audit", "--json"]) == 0
    assert '"status": "error"' in capsys.readouterr().out
