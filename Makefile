# Two commands do everything on a fresh machine:
#   make demo   install into .venv, run the main job (embedded default), export tables
#   make test   install into .venv, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch on these machines; on a GPU box: make demo TORCH='torch==2.13.0 --index-url ...'
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
# The install stamp's name encodes TORCH (its checksum) and the file records it: another TORCH= finds no
# stamp, so `make` reinstalls.
TORCH_ID := $(shell printf '%s' '$(TORCH)' | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-torch-$(TORCH_ID)

.PHONY: install browser sample-kits postgres shellcheck slurm demo test bench replicate replicate-collect clean

install: $(STAMP)

# A stamp of another TORCH= means another torch build is installed: pip counts 2.13.0+cpu as torch==2.13.0,
# so that build is uninstalled first (its stamp removed) and $(TORCH) installed in its place.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@for old in $(VENV)/.installed-torch-*; do \
	    if [ -f "$$old" ] && [ "$$old" != "$(STAMP)" ]; then \
	        echo "TORCH changed (was: $$(cat "$$old")): uninstalling that torch build"; \
	        $(BIN)/pip uninstall -y -q torch && rm -f "$$old" || exit 1; \
	    fi; \
	done
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed
	printf '%s\n' '$(TORCH)' > $(STAMP)

# The smoke ablation (SCRAPL, +P-Adam, +P-SAGA, +θ-IS × 3 seeds) on the embedded default: local Ray,
# MLflow in studies/demo-ablation/mlflow.db; then its Table 2/6 style export and the MLflow UI command.
# Running it again resumes the same study (nothing finished is re-run).
DEMO_ROOT ?= $(CURDIR)/studies
demo: $(STAMP)
	$(BIN)/python -m study run ablation --smoke-test --seeds 3 --name demo-ablation --root $(DEMO_ROOT)
	@echo; cat $(DEMO_ROOT)/demo-ablation/tables/ablation.md; echo; cat $(DEMO_ROOT)/demo-ablation/tables/deltas.md; echo
	@echo "MLflow UI: $(BIN)/mlflow ui --backend-store-uri sqlite:///$(DEMO_ROOT)/demo-ablation/mlflow.db --host 127.0.0.1 --port 5000"

# First lint (ruff), the format check and the type check (mypy on the files of [tool.mypy] in pyproject.toml);
# then two passes on a 2-core machine: the suite without the end-to-end tests on 2 workers, then the
# end-to-end tests (a real `ray start` cluster, `mlflow server`, headless chromium) alone and serially.
test: $(STAMP) browser sample-kits postgres shellcheck slurm
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -m "not e2e"
	$(BIN)/python -m pytest -m e2e

# The MLflow UI test (tests/e2e) drives Debian's headless chromium: installed with apt when missing
# (as root directly, otherwise through sudo); nothing happens when it is already there.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	    echo "installing Debian's chromium for the MLflow UI test ..."; \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
	    command -v chromium >/dev/null; }

# The one-shot loader tests read real drum kits (WAV, FLAC, AIFF): Debian's hydrogen-data (2 kits) and
# hydrogen-drumkits (the other kits the tests name, e.g. Audiophob), installed with apt when either is missing
# (as root directly, otherwise through sudo); nothing happens when both are there.
KITS := /usr/share/hydrogen/data/drumkits
sample-kits:
	@test -d $(KITS)/TR808EmulationKit -a -d $(KITS)/Audiophob || { \
	    echo "installing Debian's hydrogen-data and hydrogen-drumkits (drum kits) for the one-shot loader tests ..."; \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	        hydrogen-data hydrogen-drumkits >/dev/null && \
	    test -d $(KITS)/TR808EmulationKit -a -d $(KITS)/Audiophob; }

# The MLflow-on-PostgreSQL tests (tests/e2e/test_mlflow_postgres.py) start a throwaway cluster of Debian's
# PostgreSQL server (initdb in a temporary folder): `postgresql` installed with apt when no server binaries
# are there (as root directly, otherwise through sudo); nothing happens when they are.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	    echo "installing Debian's postgresql for the MLflow-on-PostgreSQL tests ..."; \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null && \
	    ls /usr/lib/postgresql/*/bin/initdb >/dev/null; }

# The cluster recipes' tests (tests/deploy) lint deploy/slurm/*.sbatch with Debian's shellcheck: installed
# with apt when missing (as root directly, otherwise through sudo).
shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || { \
	    echo "installing Debian's shellcheck for the cluster recipe tests ..."; \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null && \
	    command -v shellcheck >/dev/null; }

# The SLURM recipe's end-to-end test (tests/e2e/test_slurm_recipe.py) runs deploy/slurm/ray-study.sbatch on a
# single-node SLURM cluster it configures in a temporary folder: Debian's slurmctld, slurmd and munge,
# installed with apt when missing (as root directly, otherwise through sudo).
slurm:
	@command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || { \
	    echo "installing Debian's slurmctld, slurmd and munge for the SLURM recipe test ..."; \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null && \
	    command -v slurmctld >/dev/null; }

# The reduced-scale replication of issue 16 (results/replication/README.md): each study runs through the study CLI
# and resumes where it stopped (nothing finished runs again); then its tables, per-seed CSV and figures are copied
# into results/replication/<study>/. CPU-hours on a 2-core machine: see the report. REPL_ROOT holds the studies.
REPL_ROOT ?= $(CURDIR)/studies/replication
REPL_OUT  := results/replication
REPL_STUDIES := repl-theta-is-hi-med repl-fig6-pi repl-ablation-chirplet-hi-med repl-ablation-granular repl-losses-chirplet-hi-med
STUDY := $(BIN)/python -m study
replicate: $(STAMP)
	$(STUDY) run theta-is --name repl-theta-is-hi-med --presets repl-chirplet-hi-med --seeds 20 --root $(REPL_ROOT)
	$(STUDY) run theta-is --name repl-fig6-pi --presets chirplet-lo-lo,chirplet-lo-med,chirplet-hi-med,chirplet-hi-hi \
	    --arms theta-is --seeds 0, --set encoder.channels=16 --set train.max_steps=1 --num-cpus 1 --root $(REPL_ROOT)
	$(STUDY) run ablation --name repl-ablation-chirplet-hi-med --preset repl-chirplet-hi-med --arms scrapl,p-adam \
	    --seeds 20 --root $(REPL_ROOT)
	$(STUDY) run ablation --name repl-ablation-granular --preset repl-granular --seeds 20 --root $(REPL_ROOT)
	$(STUDY) run losses --name repl-losses-chirplet-hi-med --preset repl-chirplet-hi-med --seeds 10 --jtfs-seeds 1 \
	    --root $(REPL_ROOT)
	$(MAKE) replicate-collect

# Copy what the studies exported (only those that exist) into $(REPL_OUT)/<study>/.
replicate-collect:
	@for s in $(REPL_STUDIES); do \
	    d=$(REPL_ROOT)/$$s; [ -d $$d/tables ] || continue; \
	    mkdir -p $(REPL_OUT)/$$s && cp $$d/tables/*.md $$d/tables/*.csv $(REPL_OUT)/$$s/ 2>/dev/null; \
	    case $$s in *ablation*) mv -f $(REPL_OUT)/$$s/per_seed.csv $(REPL_OUT)/$$s/ablation_per_seed.csv 2>/dev/null;; esac; \
	    [ -d $$d/figures ] && find $$d/figures -name '*.png' -exec cp {} $(REPL_OUT)/$$s/ \; ; \
	    echo "collected $$s"; \
	done
	@A=$(REPL_OUT)/repl-ablation-chirplet-hi-med/ablation_per_seed.csv; T=$(REPL_OUT)/repl-theta-is-hi-med/per_seed.csv; \
	O=$(REPL_OUT)/ablation-chirplet-hi-med; ARMS=scrapl,p-adam,p-adam+p-saga,p-adam+p-saga+theta-is; \
	L="SCRAPL,+P-Adam,+P-Adam +P-SAGA,+P-Adam +P-SAGA +θ-IS"; \
	if [ -f $$A ] && [ -f $$T ]; then \
	    mkdir -p $$O && $(BIN)/python $(REPL_OUT)/join_chirplet_ablation.py $$A $$T $$O/ablation_per_seed.csv && \
	    $(BIN)/python -m analysis table ablation --csv $$O/ablation_per_seed.csv --arms $$ARMS --labels "$$L" --out $$O/ablation.md && \
	    $(BIN)/python -m analysis table deltas --csv $$O/ablation_per_seed.csv --arms $$ARMS --labels "$$L" --out $$O/deltas.md && \
	    $(BIN)/python -m analysis table sequential --csv $$O/ablation_per_seed.csv --arms $$ARMS --labels "$$L" --out $$O/sequential_replay.md; \
	fi
	@G=$(REPL_OUT)/repl-ablation-granular; ARMS=scrapl,p-adam,p-adam+p-saga,p-adam+p-saga+theta-is; \
	L="SCRAPL,+P-Adam,+P-Adam +P-SAGA,+P-Adam +P-SAGA +θ-IS"; \
	if [ -f $$G/ablation_per_seed.csv ]; then \
	    $(BIN)/python -m analysis table sequential --csv $$G/ablation_per_seed.csv --arms $$ARMS --labels "$$L" --out $$G/sequential_replay.md; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/loss_step.py --config tiny

clean:
	rm -rf $(VENV) .pytest_cache
