# pyproject.toml's `test` extra, from nixpkgs (import-linter is not packaged
# there; `make test` runs lint-imports from the venv).
ps: [
  ps.pytest
  ps.pytest-asyncio
  ps.pytest-textual-snapshot
  ps.pytest-xdist
  ps.hypothesis
  ps.setuptools
]
