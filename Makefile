# Two commands do everything on a fresh machine:
#   make demo   install into .venv, run the main job (embedded default), export tables
#   make test   install into .venv, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch on these machines; on a GPU box: make demo TORCH='torch==2.13.0 --index-url ...'
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python bench/loss_step.py --config tiny --every 13

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/loss_step.py --config tiny

clean:
	rm -rf $(VENV) .pytest_cache
