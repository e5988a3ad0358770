#!/usr/bin/env bash
# The test command (README.md): fetch the real models the tests need (idempotent, sha256-checked),
# then run the whole test suite. Tests that need a real model fail if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh all
cargo test --all-targets --no-fail-fast "$@"
cargo test --doc "$@"
