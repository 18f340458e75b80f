# `make run` and `make test` each do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MACHINE ?= tests/fixtures/machines/win11-along-ubuntu.json

# Debian packages the installer and its tests use: libparted for pyparted, Nix
# to check the generated files, the partitioning/mkfs/LUKS tools the executor
# runs, mkpasswd (whois) for password hashes, kbd for loadkeys, tmux for the
# real-terminal test; QEMU, OVMF and debootstrap for the end-to-end VM installs.
SYSTEM_PACKAGES := python3-venv libparted-dev pkg-config nix-bin gdisk parted fdisk \
	dosfstools e2fsprogs btrfs-progs xfsprogs cryptsetup-bin util-linux whois kbd tmux \
	qemu-system-x86 ovmf debootstrap

.PHONY: install system-packages run test test-fast test-vm bench clean

install: system-packages $(VENV)/.installed

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: install
	$(VENV)/bin/nixos-tui-installer --dry-run --machine $(MACHINE)

test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 --dist loadgroup -q

# The VM installs alone (make test runs them too, on one worker beside the rest).
test-vm: install
	$(PY) -m pytest -q -m vm tests/test_vm.py

test-fast: install
	$(PY) -m pytest -n 2 -q -m 'not root and not slow and not vm'

bench: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
