"""Mutants of the convolutional network with LIF sum-pooling (refsnn/learning/lee2016_conv.py): C1–C3."""

LC = "refsnn/learning/lee2016_conv.py"

MUTANTS = [
    ("transposed kernel in the event-driven convolution (C1)",
     LC, "W[:, i, j, i:i + k, j:j + k] = K", "W[:, i, j, i:i + k, j:j + k] = K.transpose(0, 2, 1)"),
    ("fold reads the gradient with a transposed kernel (C3 is not U's adjoint)",
     LC, "out += G[:, i, j, i:i + kernel, j:j + kernel]",
     "out += G[:, i, j, i:i + kernel, j:j + kernel].transpose(0, 2, 1)"),
    ("the tied kernel takes one position's gradient, not the sum over positions (C3)",
     LC, "out += G[:, i, j, i:i + kernel, j:j + kernel]", "out = G[:, i, j, i:i + kernel, j:j + kernel]"),
    ("pooling windows overlap: stride 1 instead of P (C2)",
     LC, "W[f, I, J, f, pool * I:pool * I + pool, pool * J:pool * J + pool] = 1.0",
     "W[f, I, J, f, I:I + pool, J:J + pool] = 1.0"),
    ("drop the pooling's transfer derivative 1/θ_p (C2)",
     LC, "else da_p / theta_p", "else da_p"),
    ("backpropagate the pooling's δa instead of its δ (skips 1/θ_p)",
     LC, "da_c = d_p @ full[1][\"W\"]", "da_c = da_p @ full[1][\"W\"]"),
    ("drop the convolution's 1/V_th (L4, μ = 0)",
     LC, "d_c = da_c / v_c                                  # L4", "d_c = da_c                                  # L4"),
    ("flip the sign of the map thresholds' exact gradient (∂a/∂V_th = −a/V_th)",
     LC, "g_v = -np.mean(da_c * counts[0], axis=0) / v_c", "g_v = np.mean(da_c * counts[0], axis=0) / v_c"),
    ("tied thresholds: mean over positions instead of the sum",
     LC, "g_vf = g_v.reshape(net.n_maps, -1).sum(axis=1)", "g_vf = g_v.reshape(net.n_maps, -1).mean(axis=1)"),
    ("the seed's threshold sign in L6's direction for the maps",
     LC, "g_v = -np.mean(d_c * counts[0], axis=0)", "g_v = np.mean(d_c * counts[0], axis=0)"),
    ("drop L7's gradient on the kernels",
     LC, "gK = gK + g_reg.reshape(K.shape)", "gK = gK"),
    ("L7 on the kernels counted once per position (× H_c W_c)",
     LC, "value += reg\n        gK", "value += reg * 16\n        gK"),
    ("the convolution steps with η_w, not η_w/(H_c W_c)",
     LC, "recipe.eta_w / (hc * wc) if eta_conv", "recipe.eta_w if eta_conv"),
]

TESTS = ["tests/test_lee2016_conv.py", "tests/test_lee2016.py"]
