# `make run` and `make test` each do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# `make test` is the whole suite: the root tests (loop devices, the VM
# installs) run too, through sudo when make is not root. FULL_SUITE turns a
# missing prerequisite of those tests into a failure instead of a skip; CI
# (CI=true: 2,000 examples per property test) is passed on through sudo. As
# root, pytest writes no bytecode, cache or example database into the checkout
# that the user could not remove later.
FULL_SUITE := NIXOS_TUI_FULL_SUITE=1 CI="$${CI:-}"
ifeq ($(SUDO),)
RUN_TESTS := $(FULL_SUITE) $(PY) -m pytest
else
RUN_TESTS := sudo env $(FULL_SUITE) PYTHONDONTWRITEBYTECODE=1 \
	HYPOTHESIS_STORAGE_DIRECTORY="$${TMPDIR:-/tmp}/nixos-tui-installer-hypothesis" $(PY) -m pytest -p no:cacheprovider
endif
MACHINE ?= tests/fixtures/machines/win11-along-ubuntu.json
# The compatibility run: the non-root fast tests again under Python 3.13
# (nixos-25.11's python3) with rich 14.1 (nixos-25.11's; textual 8.2.8 asks for
# 14.2, and nix/python.nix relaxes that), so both are proven, not hoped. A 3.13
# installed as Debian 13 has it, or by pyenv (by its path: pyenv's shim in PATH
# fails unless 3.13 is pyenv's chosen version); without one it is skipped, saying so.
PYTHON313 ?= $(firstword $(wildcard /usr/bin/python3.13 /usr/local/bin/python3.13 \
	$(HOME)/.pyenv/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13))
COMPAT := .venv-compat
RICH_COMPAT := 14.1.0

# Debian packages the installer and its tests use: libparted for pyparted, the
# partitioning/mkfs/LUKS tools the executor runs, mkpasswd (whois) for password
# hashes, kbd for loadkeys, tmux for the real-terminal test; ntfs-3g (ntfsresize, mkntfs, its FUSE
# mount) to shrink Windows, mtools to put files on a FAT ESP a kernel without vfat cannot mount; QEMU, OVMF and
# debootstrap for the end-to-end VM installs and the Nix root. Debian 12's Nix (2.8) is too old for nixpkgs (>= 2.18): the
# tests run Debian 13's 2.26 from a root debootstrapped into tests/newnix/cache/.
SYSTEM_PACKAGES := python3-venv libparted-dev pkg-config gdisk parted fdisk \
	dosfstools mtools e2fsprogs btrfs-progs xfsprogs ntfs-3g cryptsetup-bin util-linux whois kbd tmux \
	qemu-system-x86 ovmf debootstrap swtpm swtpm-tools openssl

.PHONY: install system-packages nix-root run test test-fast test-compat test-vm bench clean

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

# The Nix 2.26 the tests run (tests/nixroot.py); a no-op once built for the
# current recipe, and pytest builds it itself when started directly.
nix-root: system-packages
	$(SUDO) tests/newnix/build-root.sh >/dev/null

# The Review step parses edits with Nix: the same Nix 2.26 the tests use (the
# shims work as a user too, in a user namespace).
# Its network is recorded too: a laptop with Wi-Fi in range and no cable (the nmcli
# stand-in answering from a copy of NETWORK, which a join would change) and no binary
# cache, so the Network step shows; a dry run joins nothing.
NETWORK ?= tests/fixtures/network/laptop-nmcli.json
run: install nix-root
	state=$$(mktemp) && cp $(NETWORK) $$state && \
	PATH="$(CURDIR)/tests/newnix/bin:$$PATH" $(VENV)/bin/nixos-tui-installer --dry-run --machine $(MACHINE) \
		--nmcli "env NMCLI_STATE=$$state $(PY) $(CURDIR)/tests/standins/nmcli" \
		--nix-conf tests/fixtures/network/offline-nix.conf; \
	code=$$?; rm -f $$state; exit $$code

test: install nix-root
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	@[ -z "$(SUDO)" ] || command -v sudo >/dev/null || { \
		echo "make test runs the root tests (loop devices, VM installs): run it as root, or install sudo" >&2; exit 1; }
	$(RUN_TESTS) -n 2 --dist loadgroup -q
	$(MAKE) --no-print-directory test-compat

# rich is put back to 14.1 after the install, without its dependents' consent
# (--no-deps): what nixpkgs' pythonRelaxDeps does. Only the fast non-root tests,
# on two workers: a minute or two more for CI.
$(COMPAT)/.installed: pyproject.toml
	[ -x $(COMPAT)/bin/python ] || $(PYTHON313) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install -q -e '.[test]'
	$(COMPAT)/bin/python -m pip install -q --no-deps 'rich==$(RICH_COMPAT)'
	touch $@

test-compat:
ifeq ($(PYTHON313),)
	@echo "test-compat: skipped: no Python 3.13 here (python3.13 in PATH, or pyenv's)"
else
	$(MAKE) --no-print-directory $(COMPAT)/.installed
	$(COMPAT)/bin/python -c 'import sys; from importlib.metadata import version; \
		assert sys.version_info[:2] == (3, 13) and version("rich") == "$(RICH_COMPAT)"; \
		print("test-compat: Python", sys.version.split()[0], "rich", version("rich"))'
	@# The VM image's wheel check holds the main venv to pip's own resolution,
	@# which the relaxed rich here breaks on purpose: that one test is not for this run.
	$(COMPAT)/bin/pytest -p no:cacheprovider -n 2 -q -m 'not root and not slow and not vm' \
		--deselect tests/test_vm.py::test_dependency_wheels_are_the_venvs_versions_and_nothing_else
endif

# The VM installs alone (make test runs them too, on one worker beside the rest).
test-vm: install nix-root
	$(RUN_TESTS) -q -m vm tests/test_vm.py

test-fast: install nix-root
	$(PY) -m pytest -n 2 -q -m 'not root and not slow and not vm'

bench: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(COMPAT) build *.egg-info .pytest_cache .mypy_cache
