"""Mutants of the presets' chain rules (refsnn/oracle/presets.py): parameter maps, views, s_{-1}."""

PRE = "refsnn/oracle/presets.py"

MUTANTS = [
    ("snnTorch Leaky: drop γ = θ from ∂L/∂threshold",
     PRE, "                gt += g[\"gamma\"]                              # γ = θ", "                pass"),
    ("snnTorch Leaky reset_delay=False: drop θ·∂L/∂γ from ∂L/∂β (γ = βθ)",
     PRE, "                gb += th * g[\"gamma\"]", "                pass"),
    ("snnTorch Leaky reset_delay=False: γ = θ instead of βθ in ∂L/∂θ",
     PRE, "                gt += beta * g[\"gamma\"]", "                gt += g[\"gamma\"]"),
    ("snnTorch Synaptic: synaptic decay gradient taken from α instead of λ",
     PRE, "\"alpha\": _unb(g[\"lam\"], P[\"alpha\"])", "\"alpha\": _unb(g[\"alpha\"], P[\"alpha\"])"),
    ("snnTorch RLeaky: recurrent.bias gradient dropped",
     PRE, "                out[\"recurrent.bias\"] = g[\"b\"]", "                out[\"recurrent.bias\"] = 0 * g[\"b\"]"),
    ("snnTorch RLeaky one-to-one: V gradient from the row sums instead of the diagonal",
     PRE, "out[\"V\"] = _unb(np.diag(g[\"R\"]).copy(), P[\"V\"])", "out[\"V\"] = _unb(g[\"R\"].sum(axis=1), P[\"V\"])"),
    ("SpikingJelly PLIF: da/dw = a instead of a(1 − a)",
     PRE, "out[\"w\"] = np.asarray(ga * a * (1.0 - a))", "out[\"w\"] = np.asarray(ga * a)"),
    ("SpikingJelly PLIF: sign of the γ = αθ term flipped",
     PRE, "ga += -th * g[\"gamma\"].sum() if vr is None", "ga += th * g[\"gamma\"].sum() if vr is None"),
    ("SpikingJelly: input scale k left out of ∂L/∂weight",
     PRE, "out = {\"weight\": k * g[\"W\"], \"bias\": k * g[\"b\"]}", "out = {\"weight\": g[\"W\"], \"bias\": k * g[\"b\"]}"),
    ("Norse: drop the v_r = (1 − a) v_reset term of ∂L/∂a",
     PRE, "ga = (g[\"W\"] * P[Wkey]).sum(axis=1) - g[\"alpha\"] - vres * g[\"v_reset\"]",
     "ga = (g[\"W\"] * P[Wkey]).sum(axis=1) - g[\"alpha\"]"),
    ("Norse: sign of ∂λ/∂τ_s⁻¹ flipped",
     PRE, "_unb(-dt * g[\"lam\"], P[\"tau_syn_inv\"])", "_unb(dt * g[\"lam\"], P[\"tau_syn_inv\"])"),
    ("Norse LIFRecurrentCell: drop the R = a W_rec term of ∂L/∂a",
     PRE, "ga = ga + (g[\"R\"] * P[\"recurrent_weights\"]).sum(axis=1)", "ga = ga"),
    ("post-reset view (subtract): sign of −a^V θ on δs flipped",
     PRE, "ds = -aV * th if view.attached else None", "ds = aV * th if view.attached else None"),
    ("post-reset view (to a value): drop the (1 − s̃) gate on a^v",
     PRE, "return aV * (1.0 - s), ds, extra", "return aV, ds, extra"),
    ("post-reset view (to a value): drop ∂L/∂v_reset = Σ a^V s̃",
     PRE, "extra = {view.v_reset: (aV * s).sum(axis=(0, 1))} if view.v_reset else {}", "extra = {}"),
    ("zero initial spike: keep G5's s_{-1} term (refsnn's from_v0)",
     PRE, "gp[\"theta\"] = gp[\"theta\"] + (sg0 * g.ds_init).sum(axis=0)", "gp[\"theta\"] = gp[\"theta\"]"),
    ("SpyTorch: record shift undone on the wrong side (adjoint of the delay)",
     PRE, "    out[:-k] = a[k:]\n    return out", "    out[k:] = a[:-k]\n    return out"),
]

TESTS = ["tests/test_presets.py", "tests/test_peers.py"]
