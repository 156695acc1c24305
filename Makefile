# Two commands set everything up on a fresh machine:
#   make quickstart   creates .venv if needed, then runs the whole DAG on embedded data (CPU, minutes)
#   make test         creates .venv if needed, then runs the test suite
#   make report       the quickstart's tables (in the page), figures, config and provenance, with captions:
#                     results/quickstart/report.html
#   make notebooks    opens the figure notebooks in JupyterLab (after make quickstart: Run All)
# Conda: `conda env create -f environment.yml`, activate it, then pass VENV="$CONDA_PREFIX" to any target.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Snakemake and the rules call the `yoco` command of this environment.
RUN := PATH="$(BIN):$$PATH"

.PHONY: env test quickstart claims-cpu paper-cpu report notebooks lint dryrun clean-quickstart

env: $(STAMP)

# config/jupyter/jupyter_config.json goes where the environment's Jupyter applications read it
# (sys.prefix/etc/jupyter): their kernels' channels are encrypted, so ipykernel does not warn that it
# runs over TCP without encryption (yoco/notebook.py does the same for papermill).
$(STAMP): requirements.txt pyproject.toml config/jupyter/jupyter_config.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	mkdir -p $(abspath $(VENV))/etc/jupyter
	cp config/jupyter/jupyter_config.json $(abspath $(VENV))/etc/jupyter/jupyter_config.json
	touch $(STAMP)

test: $(STAMP)
	$(RUN) $(BIN)/python -m pytest

quickstart: $(STAMP)
	$(RUN) snakemake --cores $(CORES) --configfile config/quickstart.yaml --printshellcmds
	@echo "Tables: results/quickstart/table*.csv   Figures: figures/quickstart/fig*.png"

report: $(STAMP)
	$(RUN) snakemake --cores 1 --configfile config/quickstart.yaml --report results/quickstart/report.html
	@echo "Report: results/quickstart/report.html (open it in a browser)"

notebooks: $(STAMP)
	$(RUN) jupyter lab notebooks/

# The paper's orderings on real CIFAR-10 on two CPU cores, in under an hour (config/cifar10-cpu.yaml).
# NPZ=path reads a cached CIFAR-10 (`yoco data`'s npz layout) instead of downloading it with torchvision.
NPZ ?=
claims-cpu: $(STAMP)
	$(RUN) snakemake --cores $(CORES) --configfile config/cifar10-cpu.yaml \
		$(if $(NPZ),--config 'datasets={cifar10: {npz: $(NPZ)}}')
	@echo "Claims: results/cifar10-cpu/claims.csv   Tables: results/cifar10-cpu/table*.csv"

# Every table and figure on real CIFAR-10 with in-house IDC, DREAM, DSA and MTT, on two CPU cores
# (config/cifar10-cpu-full.yaml; 57 min measured, docs/results-cifar10-cpu-full.md). NPZ as for claims-cpu.
paper-cpu: $(STAMP)
	$(RUN) snakemake --cores $(CORES) --configfile config/cifar10-cpu-full.yaml \
		$(if $(NPZ),--config 'datasets={cifar10: {npz: $(NPZ)}}')
	@echo "Tables: results/cifar10-cpu-full/table*.csv   Figures: figures/cifar10-cpu-full/fig*.png"

lint: $(STAMP)
	$(RUN) snakemake --lint

dryrun: $(STAMP)
	$(RUN) snakemake -n --cores 8 all

clean-quickstart:
	rm -rf results/quickstart figures/quickstart
