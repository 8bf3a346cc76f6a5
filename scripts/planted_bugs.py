"""Print the table of planted bugs in docs/diagnosis.md: each bug of tests/planted_bugs.py
(a user's own PyTorch code with one bug), recorded and passed through ``refsnn compare``.

    python scripts/planted_bugs.py            # needs torch
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import planted_bugs as PB  # noqa: E402

from refsnn.oracle import compare as C  # noqa: E402


def main():
    reports = {bug: C.compare(PB.user_file(bug)) for bug in PB.BUGS}
    print(PB.table(reports))


if __name__ == "__main__":
    main()
