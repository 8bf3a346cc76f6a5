"""Mutants of the bound that lets network_backward skip reading a layer's ∂L/∂x = δI W
(refsnn/neurons/lif.py, ``_InputGradient.finite_by_bound``). A bound that is not an upper
bound, or a decision that ignores it, would hand an overflowed ∂L/∂x to the layer below."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("the bound's decision ignored (every product taken as finite)", LIF,
     "return bool(bound < fi.max / 2)", "return True"),
    ("max |δI| for K · max |δI| (not an upper bound)", LIF,
     "bound = K * big_dI * max(self.W.max(), -self.W.min())",
     "bound = big_dI * max(self.W.max(), -self.W.min())"),
    ("max |δI| taken as max δI (a negative entry's size ignored)", LIF,
     "big_dI = max(self.dI2.max(), -self.dI2.min())", "big_dI = self.dI2.max()"),
    ("max |W| taken as max W (a negative weight's size ignored)", LIF,
     "bound = K * big_dI * max(self.W.max(), -self.W.min())", "bound = K * big_dI * self.W.max()"),
    ("the margin for rounding dropped (max for max/2)", LIF,
     "return bool(bound < fi.max / 2)", "return bool(bound < fi.max)"),
]

TESTS = ["tests/test_bad_input.py"]
