#!/usr/bin/env bash
# Builds bundler's own .deb: the release binary, a man page and shell completions generated
# from the clap definition, and the README. Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
target/release/bundler generate-assets target/assets
cargo deb -p bundler --no-build --locked "$@"
