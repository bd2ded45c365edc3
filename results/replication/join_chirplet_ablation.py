"""The chirplet hi-med cumulative ablation (Tables 2/6 rows SCRAPL → +P-Adam → +P-SAGA → +θ-IS) from two
studies on the same preset and seeds: repl-ablation-chirplet-hi-med ran the SCRAPL and +P-Adam arms, and
the uniform and θ-IS arms of repl-theta-is-hi-med are the +P-SAGA and +θ-IS arms (same configs, same π,
same seeds). Writes one per-seed CSV in the export's columns; `make replicate-collect` runs it.

    python results/replication/join_chirplet_ablation.py ABLATION_PER_SEED THETA_IS_PER_SEED OUT
"""

import sys

import pandas as pd

COLUMNS = ["preset", "arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]
THETA_IS_ARMS = {"uniform": "p-adam+p-saga", "theta-is": "p-adam+p-saga+theta-is"}

ablation, theta_is, out = sys.argv[1:4]
a = pd.read_csv(ablation)
t = pd.read_csv(theta_is).assign(arm=lambda d: d["arm"].map(THETA_IS_ARMS))
df = pd.concat([a[COLUMNS], t[COLUMNS]], ignore_index=True).sort_values(["arm", "seed"], kind="stable")
df.to_csv(out, index=False)
print(f"wrote {out}: " + ", ".join(f"{arm} {n}" for arm, n in df.groupby("arm").size().items()))
