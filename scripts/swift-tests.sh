#!/usr/bin/env bash
# Compiles the Swift package in ios/ (generated VouchFFI bindings + the VouchKit facade and
# view models) and runs its XCTests against real vouch-server processes over loopback HTTP.
#
# NEEDS one of:
#   - a Swift toolchain >= 5.9 on PATH (a Mac with Xcode, or Linux with swift.org's
#     toolchain): used as is;
#   - otherwise Debian, as root, ~3 GB of disk and the Debian mirror: the first run makes a
#     Debian 13 (trixie) chroot with `debootstrap --variant=minbase` and installs
#     `swiftlang` (Swift 6.0) and `libc6-dev` inside, under
#     ${VOUCH_SWIFT_CHROOT:-/var/cache/vouch/swift-trixie}; later runs reuse it. Swift runs
#     inside with /proc, /dev and this checkout bind-mounted at the same path; the library
#     and vouch-server are built on the host (the chroot's glibc is newer) and the tests
#     reach the servers they start on 127.0.0.1 (the chroot shares the network).
#
#   scripts/swift-tests.sh            the XCTests; prints XCTest's summary and
#                                     "swift: N passed, N failed"; non-zero on failure
#   scripts/swift-tests.sh --bench    the FFI call-cost bench (release library) instead
#   scripts/swift-tests.sh --chroot   only make (or check) the chroot
#   scripts/swift-tests.sh --layout   only the packaging checks: the xcframework header layout
#                                     xtask makes, the zip of a stand-in xcframework, its
#                                     checksum against `swift package compute-checksum`, and
#                                     SwiftPM reading the rendered release Package.swift
#   scripts/swift-tests.sh --filter P only the XCTests matching P (swift test --filter)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=test
FILTER=()
case "${1:-}" in
  --bench) MODE=bench ;;
  --chroot) MODE=chroot ;;
  --layout) MODE=layout ;;
  --filter) FILTER=(--filter "${2:?--filter needs a pattern}") ;;
  "") ;;
  *) echo "usage: scripts/swift-tests.sh [--bench | --chroot | --layout | --filter PATTERN]" >&2; exit 2 ;;
esac
CHROOT=${VOUCH_SWIFT_CHROOT:-/var/cache/vouch/swift-trixie}
MIRROR=${VOUCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# A host swift of at least 5.9?
host_swift() {
  command -v swift >/dev/null 2>&1 || return 1
  local v
  v=$(swift --version 2>&1 | grep -oE 'Swift version [0-9]+\.[0-9]+' | grep -oE '[0-9]+\.[0-9]+' | head -1)
  [ -n "$v" ] || return 1
  local major=${v%%.*} minor=${v#*.}
  [ "$major" -gt 5 ] || { [ "$major" = 5 ] && [ "$minor" -ge 9 ]; }
}

# Makes the chroot once (into DIR.tmp, renamed when complete, so a killed run leaves no
# half chroot behind); a lock serialises concurrent runs.
ensure_chroot() {
  if [ -f "$CHROOT/.vouch-swift-ready" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "swift-tests: no swift >= 5.9 on PATH, and making the Debian 13 chroot needs root" >&2
    exit 1
  fi
  if [ ! -r /etc/debian_version ]; then
    echo "swift-tests: no swift >= 5.9 on PATH, and the chroot fallback needs Debian" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$CHROOT")"
  exec 9>"$CHROOT.lock"
  flock 9
  if [ -f "$CHROOT/.vouch-swift-ready" ]; then flock -u 9; return 0; fi
  local started=$SECONDS
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "== installing debootstrap"
    apt-get update -qq
    apt-get install -y -qq debootstrap >/dev/null
  fi
  echo "== making the Debian 13 chroot for Swift in $CHROOT (once: about 1.5 min and 2.6 GB)"
  local tmp=$CHROOT.tmp
  rm -rf "$tmp"
  debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >"$CHROOT.debootstrap.log" 2>&1 \
    || { echo "debootstrap failed; see $CHROOT.debootstrap.log" >&2; exit 1; }
  chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swiftlang libc6-dev \
    >"$CHROOT.apt.log" 2>&1 || { echo "apt-get install swiftlang failed; see $CHROOT.apt.log" >&2; exit 1; }
  chroot "$tmp" apt-get clean
  touch "$tmp/.vouch-swift-ready"
  rm -rf "$CHROOT"
  mv "$tmp" "$CHROOT"
  echo "== chroot ready in $((SECONDS - started)) s: $(du -sh "$CHROOT" | cut -f1)"
  flock -u 9
}

MOUNTS=()
RUN_TMP=""
cleanup() {
  # Servers a crashed test process left behind: exactly those whose data directory is
  # under this run's temporary directory.
  if [ -n "$RUN_TMP" ] && [ -d "$RUN_TMP" ]; then
    local f pid
    for f in /proc/[0-9]*/cmdline; do
      pid=${f#/proc/}; pid=${pid%/cmdline}
      if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "--data $RUN_TMP/"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$RUN_TMP"
  fi
  unmount_all
}
unmount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  MOUNTS=()
}
bind() { # bind SRC (at the same path inside the chroot)
  local dst=$CHROOT$1
  mkdir -p "$dst"
  if ! mountpoint -q "$dst"; then
    mount --bind "$1" "$dst"
    MOUNTS+=("$dst")
  fi
}

RUN=()
trap cleanup EXIT
if host_swift; then
  echo "== using the host's $(swift --version 2>&1 | head -1)"
else
  ensure_chroot
  [ "$MODE" = chroot ] && exit 0
  if [ "$(id -u)" != 0 ]; then
    echo "swift-tests: running Swift in the chroot needs root (bind mounts, chroot)" >&2
    exit 1
  fi
  # One run at a time in the chroot: a run's exit unmounts what it mounted.
  exec 8>"$CHROOT.run.lock"
  flock 8
  bind /proc
  bind /dev
  bind "$ROOT"
  [ "$TARGET_DIR" = "$ROOT/target" ] || bind "$TARGET_DIR"
  # HOME inside, for SwiftPM's caches (kept in the chroot between runs).
  RUN=(chroot "$CHROOT" /usr/bin/env -C "$ROOT/ios" HOME=/root PATH=/usr/bin:/bin)
  echo "== using $("${RUN[@]}" swift --version 2>&1 | head -1) in the chroot $CHROOT"
fi
[ "$MODE" = chroot ] && exit 0

# `cargo xtask xcframework --check-layout` zips a stand-in xcframework with `zip` (on every
# Mac; on Debian the `zip` package).
if ! command -v zip >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ]; then
    echo "== installing zip"
    apt-get install -y -qq zip >/dev/null || { apt-get update -qq && apt-get install -y -qq zip >/dev/null; }
  else
    echo "swift-tests: the packaging check needs zip (apt-get install zip)" >&2
    exit 1
  fi
fi

PROFILE=debug
[ "$MODE" = bench ] && PROFILE=release
echo "== building libvouch_ffi ($PROFILE) and vouch-server; generating the Swift bindings"
[ "$MODE" = layout ] || cargo build --quiet -p vouch-server --bin vouch-server
# Generates the bindings into target/bindings/swift (from the debug library; the API is
# the same in release) and checks the xcframework's header layout
# (headers/VouchFFIFFI/module.modulemap) and the package files that rely on it.
cargo xtask xcframework --check-layout
# The release package rendered from a stand-in xcframework's zip: SwiftPM must compute the
# same checksum as xtask (SHA-256 of the zip) and read the rendered manifest (url + checksum
# binary target, no unsafe flags). dump-package evaluates the manifest without fetching.
CHECK=$TARGET_DIR/xcframework/check
echo "== release package: checksum and manifest, as SwiftPM sees them"
ours=$(tr -d '[:space:]' <"$CHECK/VouchFFIFFI.xcframework.zip.sha256")
theirs=$("${RUN[@]}" swift package --package-path "$CHECK/package" compute-checksum "$CHECK/VouchFFIFFI.xcframework.zip" | tail -1 | tr -d '[:space:]')
if [ "$ours" != "$theirs" ]; then
  echo "checksum mismatch: xtask $ours, swift package compute-checksum $theirs" >&2
  exit 1
fi
echo "checksum: xtask and swift package compute-checksum agree ($ours)"
"${RUN[@]}" swift package --package-path "$CHECK/package" dump-package >"$CHECK/dump-package.json"
grep -q "\"$ours\"" "$CHECK/dump-package.json" || { echo "the rendered manifest's binary target lacks the checksum" >&2; exit 1; }
grep -q '"VouchKit"' "$CHECK/dump-package.json" || { echo "the rendered manifest lacks VouchKit" >&2; exit 1; }
echo "release manifest: SwiftPM reads it (binary target by url + checksum, product VouchKit)"
[ "$MODE" = layout ] && exit 0
# The tests and the bench call test hooks (ping_async, panic_probe) the shipped library
# does not have: the library they load and its bindings come from one (debug) build with
# the `test-hooks` feature. The API is the same in release, so the bench only adds the
# release library (with the hooks), as the Kotlin bench does.
cargo build --quiet -p vouch-ffi --features cli,test-hooks --lib --bin uniffi-bindgen
[ "$PROFILE" = release ] && cargo build --quiet --release -p vouch-ffi --lib --features test-hooks
rm -rf target/bindings/swift-tests
"$TARGET_DIR/debug/uniffi-bindgen" generate --library "$TARGET_DIR/debug/libvouch_ffi.so" \
  --language swift --no-format --out-dir target/bindings/swift-tests >/dev/null
# Copied only when changed, so an unchanged library does not recompile the 140 KB module.
mkdir -p ios/Sources/VouchFFI
copy_if_changed() { cmp -s "$1" "$2" || cp "$1" "$2"; }
copy_if_changed target/bindings/swift-tests/VouchFFI.swift ios/Sources/VouchFFI/VouchFFI.swift
copy_if_changed target/bindings/swift-tests/VouchFFIFFI.h ios/Sources/VouchFFIFFI/VouchFFIFFI.h

export VOUCH_FFI_LIB_DIR="$TARGET_DIR/$PROFILE"
export VOUCH_SERVER_BIN="$TARGET_DIR/debug/vouch-server"
export LD_LIBRARY_PATH="$VOUCH_FFI_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The tests' servers and profiles live under this directory (removed at exit); a fixed
# path, because SwiftPM rebuilds everything when its environment changes.
RUN_TMP=$TARGET_DIR/swift/tmp
mkdir -p "$RUN_TMP"
# RUST_BACKTRACE=0: the panic test's backtrace would be symbolized against Swift's DWARF,
# which takes minutes.
ENVV=(TMPDIR="$RUN_TMP" VOUCH_FFI_LIB_DIR="$VOUCH_FFI_LIB_DIR" VOUCH_SERVER_BIN="$VOUCH_SERVER_BIN" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" RUST_BACKTRACE=0)
# SwiftPM's build directory outside ios/ (under target/, with the rest of the build output).
SCRATCH=$TARGET_DIR/swift/$PROFILE
cd ios

if [ "$MODE" = bench ]; then
  "${RUN[@]}" env "${ENVV[@]}" swift run -c release --scratch-path "$SCRATCH" VouchBench
  exit 0
fi

echo "== swift build + swift test"
mkdir -p "$TARGET_DIR/swift"
LOG=$TARGET_DIR/swift/xctest.log
set +e
"${RUN[@]}" env "${ENVV[@]}" swift test --scratch-path "$SCRATCH" "${FILTER[@]}" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^[[:space:]]*Executed [0-9]+ tests?' "$LOG" | tail -1 || true)
echo "XCTest: ${summary:-no summary}"
passed=$(grep -cE "^Test Case '.*' passed" "$LOG" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$LOG" || true)
echo "swift: $passed passed, $failed failed"
if [ "$status" != 0 ] || [ "$failed" != 0 ] || [ "$passed" = 0 ]; then exit 1; fi
