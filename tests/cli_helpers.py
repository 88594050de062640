"""Running the hpcmix command in a subprocess, as a user would."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hpcmix(*args, cwd=None, timeout=300, env=None):
    full_env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "hpcmix", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def write_deck(path, body, output="out.h5"):
    path.write_text(f'[run]\noutput = "{output}"\n' + body)
    return path


#: A 4^4 lattice and a weak-field gauge stage named "gauge": the start of the decks below.
WEAK_GAUGE = """
[lattice]
dims = [4, 4, 4, 4]

[[stage]]
name = "gauge"
kind = "generate_gauge"
start = "weak"
seed = 5
"""

GOOD_BODY = WEAK_GAUGE + """
[[stage]]
name = "prop"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.11, csw = 1.0 }
source = { kind = "point", site = [0, 0, 0, 0] }
solver = { kind = "cg", tol = 1e-9 }

[[stage]]
name = "pion"
kind = "meson"
"""

#: A clover propagator stage "prop" whose solver table is filled in with ``.format(solver=...)``.
SOLVER_BODY = WEAK_GAUGE + """
[[stage]]
name = "prop"
kind = "propagator"
operator = {{ kind = "wilson_clover", kappa = 0.12, csw = 1.0 }}
solver = {solver}
"""
