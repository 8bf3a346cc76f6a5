"""Mutants of the bound that lets network_backward skip reading a layer's ∂L/∂x = δI W
(refsnn/neurons/lif.py, ``_InputGradient.finite_by_bound``). A bound that is not an upper
bound, or a decision that ignores it, would hand an overflowed ∂L/∂x to the layer below."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("the bound's decision ignored (every product taken as finite)", LIF,
     "return bool(bound < fi.max / 2)", "return True"),
    ("max |δI| for the row norm ‖δI_i‖₁ (not an upper bound)", LIF,
     "bound = np.abs(self.dI2).sum(axis=1).max() * np.abs(self.W).max()",
     "bound = np.abs(self.dI2).max() * np.abs(self.W).max()"),
    ("the margin for rounding dropped (max for max/2)", LIF,
     "return bool(bound < fi.max / 2)", "return bool(bound < fi.max)"),
]

TESTS = ["tests/test_bad_input.py"]
