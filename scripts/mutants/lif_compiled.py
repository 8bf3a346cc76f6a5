"""Mutants of the compiled loops (refsnn/neurons/lif_compiled.py, the `fast` extra).

Each line of the three kernels (the layer's two loops, e-prop's chunk recursion) is the
NumPy loops' operation for one element; a wrong line makes some output differ from the
NumPy loops, which tests/test_lif_compiled.py holds them to bit for bit. (The subnormal flush is not mutated: it acts only where
|v − θ| > 1e18, where σ' is below the smallest normal number.)"""

C = "refsnn/neurons/lif_compiled.py"
F = "refsnn/neurons/lif_fused.py"

MUTANTS = [
    ("F4: α v_{t−1} loses α", C, "x = alpha[n] * vp[b, n]", "x = vp[b, n]"),
    ("F4: + I_t dropped", C, "x = x + It[b, n]", "x = x"),
    ("F4: the reset term's sign flipped", C, "x = x - sp[b, n] * gamma[n]", "x = x + sp[b, n] * gamma[n]"),
    ("F6: H(0) = 1 taken as 0", C, "st[b, n] = one if x >= theta[n] else zero", "st[b, n] = one if x > theta[n] else zero"),
    ("F6: spikes below θ", C, "st[b, n] = one if x > theta[n] else zero", "st[b, n] = one if x > zero else zero"),
    ("B1: the attached reset's γ δv_{t+1} dropped", C, "d = at[b, n] - gamma[n] * dvn[b, n]", "d = at[b, n]"),
    ("B2: α δv_{t+1} loses α", C, "w = alpha[n] * dvn[b, n]", "w = dvn[b, n]"),
    ("B2: a^v_t dropped", C, "w = w + avt[b, n]", "w = w"),
    ("B2: a^v_T−1 dropped at the last step", C, "w = avt[b, n] if has_av else zero", "w = zero"),
    ("B2: σ'_t δs_t loses σ'", C, "sd = sg * d", "sd = d"),
    ("G5: θ's sum misses a step's term", C, "acc[b, n] = acc[b, n] + sd", "acc[b, n] = acc[b, n]"),
    ("G2: α's sum pairs δv_t with v_t, not v_{t−1}", C,
     "acc_a[b, n] = acc_a[b, n] + w * vp[b, n]", "acc_a[b, n] = acc_a[b, n] + w * vt[b, n]"),
    ("G3: the reset's sum drops δv_t's σ' part", C,
     "acc_r[b, n] = acc_r[b, n] + w * sp ", "acc_r[b, n] = acc_r[b, n] + (w - sd) * sp "),
    ("G3: s_{−1} = s_init replaced by v_{−1} at t = 0", C, "sp = s0[b, n]", "sp = v0[b, n]"),
    ("G3: s_{t−1} recomputed with the other tie rule (H(0) = 1 taken as 0)", C,
     "sp = one if vp[b, n] >= theta[n] else zero", "sp = one if vp[b, n] > theta[n] else zero"),
    ("G3: s_{t−1} recomputed from v_t, not v_{t−1}", C,
     "sp = one if vp[b, n] > theta[n] else zero", "sp = one if vt[b, n] > theta[n] else zero"),
    ("e-prop recursion: the r = 0 term of R_t A_t dropped", C,
     "out[m] = zero + Rt[o, 0, m] * At[0, q, m]", "out[m] = zero"),
    ("e-prop recursion: A_t transposed (A[q, r] for A[r, q])", C,
     "x, y = Rt[o, r], At[r, q]", "x, y = Rt[o, r], At[q, r]"),
    ("e-prop recursion: λ_{t−1} misses w_{t−1}", C,
     "last[q, m] = last[q, m] + wt[q, m]", "last[q, m] = last[q, m]"),
    ("e-prop recursion: λ_{t−1} gets w_t for w_{t−1}", C,
     "last, wt = Rp[rows - 1], w[t - 1]", "last, wt = Rp[rows - 1], w[t]"),
    ("e-prop M_t = Φ_t a_t: the s = 0 term dropped", C,
     "tmp[m] = zero + Rt[o, 0, m] * at[0, m]", "tmp[m] = zero"),
    ("e-prop M_t = Φ_t a_t: a_t's component 0 for every s", C,
     "x, y = Rt[o, q], at[q]", "x, y = Rt[o, q], at[0]"),
    ("e-prop M_t written into step t − 1's column", C,
     "Mo[m, o, t] = tmp[m]", "Mo[m, o, t - 1] = tmp[m]"),
    ("e-prop recursion: the t = 0 product written over R_{K−1}, not into R_K", C,
     "prev = t - 1 if t else K\n", "prev = t - 1 if t else K - 1\n"),
    ("δs not written when the reset is detached but δs has its own array", C,
     "if attached or not inplace:", "if attached:"),
    ("σ' arctan: (k π/2 y)² taken as k π/2 y", C,
     "y = y * c1\n                            y = y * y\n                            y = y + one\n                            sg = c2 / y",
     "y = y * c1\n                            y = y + one\n                            sg = c2 / y"),
    ("σ' superspike: (1 + k y)² taken as 1 + k y", C,
     "y = y + one\n                            y = y * y\n                            sg = c2 / y",
     "y = y + one\n                            sg = c2 / y"),
    ("σ' triangle: max(0, ·) dropped", C, "y = max(y, zero)", "y = abs(y)"),
    ("σ' boxcar: the window ignored", C, "y = one if y < c1 else zero", "y = one"),
    ("σ' superspike's height g k/2 taken as g k", C,
     'return FAMILIES["superspike"], one(k), one(g * (0.5 * k))', 'return FAMILIES["superspike"], one(k), one(g * k)'),
    ("the reverse loop's step −1 sees δv_0 = 0", F, "dv_n = dc_n = dv_[0]", "dv_n = dc_n = zero"),
]

TESTS = ["tests/test_lif_compiled.py"]
