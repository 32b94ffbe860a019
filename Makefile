# make fit: set up and train the CNN. make test: set up and run the tests. Works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
SYSTEM_DATA := /usr/share/datasets/fashion-mnist
STAMP := $(VENV)/.installed

.PHONY: setup data browser fit test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[train,serve,dev]"
	touch $(STAMP)

# Debian's package when we can install it (root, apt), else the verified download.
data: setup
	@if [ ! -f $(DATA_DIR)/FashionMNIST/raw/t10k-labels-idx1-ubyte ] && [ ! -d $(SYSTEM_DATA) ] \
	    && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
	    || echo "apt-get could not install dataset-fashion-mnist; downloading instead"; \
	fi
	$(BIN)/python scripts/get_data.py --data-dir $(DATA_DIR)

# Debian's Chromium for the page's browser test, when we can install it (root, apt); else that test skips.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    || echo "apt-get could not install chromium; the browser test will skip"; \
	fi

fit: data
	$(BIN)/python scripts/fit.py --model cnn --data-dir $(DATA_DIR)

test: data browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf runs .pytest_cache .ruff_cache
