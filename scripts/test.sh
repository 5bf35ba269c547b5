#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need on a fresh
# Debian machine, then runs formatting, lints and every test. Tools a test needs are
# installed here; a test whose tool is missing fails, it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real. Installed only when a command is missing.
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have openssl || need+=(openssl)
have etcd || need+=(etcd-server)        # a real TLS etcd cluster on 127.0.0.11-13
have etcdctl || need+=(etcd-client)
# kubectl may already come from another package; Debian's kubernetes-client conflicts with it.
have kubectl || need+=(kubernetes-client)
have curl || need+=(curl)
have systemd-analyze || need+=(systemd)    # systemd-analyze verify on the rendered units
# Packages and repositories, checked with the real tools (el7-rpm.md).
have rpm || need+=(rpm)
have rpmkeys || need+=(rpm)
have rpmbuild || need+=(rpm)       # the tag-by-tag comparison of the RPM writer (Debian's rpm ships it)
have rpm2cpio || need+=(rpm2cpio)
have cpio || need+=(cpio)
have createrepo_c || need+=(createrepo-c)
have dnf || need+=(dnf)
have rpmlint || need+=(rpmlint)
have gpg || need+=(gnupg)
have gpg1 || need+=(gnupg1)        # CentOS 7's packages carry V3 signatures; only GnuPG 1 still makes them
have busybox || need+=(busybox-static)
# Container images: a real registry on loopback, images pushed and inspected with skopeo.
have docker-registry || need+=(docker-registry)
have skopeo || need+=(skopeo)
# The README's commands run as a test in a git checkout (the CI recipe reads `git log`; the
# state folder must be git-ignored there).
have git || need+=(git)
# The acceptance test (scripts/acceptance.sh): hosts booted by systemd-nspawn from a Debian root
# made with mmdebstrap, in network namespaces, with dnf installs built on rpmbuild's base package.
have mmdebstrap || need+=(mmdebstrap)
have systemd-nspawn || need+=(systemd-container)
have ip || need+=(iproute2)
have rpmbuild || need+=(rpm)
have ssh-keygen || need+=(openssh-client)   # its Ansible rollout goes over ssh
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "==> installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# ansible-playbook --syntax-check on the bundle's playbook (ansible-core from PyPI).
# pip puts its scripts in the interpreter's scripts folder, which may not be on PATH yet.
export PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
if ! have ansible-playbook; then
  echo "==> installing ansible-core"
  python3 -m pip install --quiet --disable-pip-version-check ansible-core
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  hash -r
fi

# bundler's own .deb is built by a test (cargo-deb from crates.io).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! have cargo-deb; then
  echo "==> installing cargo-deb"
  cargo install --locked --quiet cargo-deb
fi

# Fuzz targets (fuzz/, issue 15): cargo-fuzz drives libFuzzer and needs a nightly toolchain for
# its sanitizer flags. Where no nightly can be installed, stable runs them with
# RUSTC_BOOTSTRAP=1 (the same compiler, its unstable flags unlocked).
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi
FUZZ_TOOLCHAIN=+nightly
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "==> installing the nightly toolchain (for cargo fuzz)"
  rustup toolchain install nightly --profile minimal || FUZZ_TOOLCHAIN=
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --locked

# Each fuzz target runs for a bounded time from its seed corpus (fuzz/corpus/TARGET/seed-*); a crash
# fails the run and leaves the input in fuzz/artifacts/TARGET/.
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
echo "==> cargo fuzz: every target for ${FUZZ_SECONDS}s"
(
  cd fuzz
  if [ -z "$FUZZ_TOOLCHAIN" ]; then export RUSTC_BOOTSTRAP=1; fi
  for t in $(cargo $FUZZ_TOOLCHAIN fuzz list); do
    cargo $FUZZ_TOOLCHAIN fuzz run "$t" -- -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  done
)
