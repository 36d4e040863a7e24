#!/usr/bin/env bash
# Builds the vouch-ffi cdylib, generates the Kotlin bindings, compiles bindings + facade +
# view models + tests with kotlinc, and runs the JUnit 5 tests on the JVM against real
# vouch-server processes. Installs its toolchain pieces when missing (Debian: libjna-java,
# junit5, libzxing-core-java for the sample's QR frame decoder; npm: kotlin-compiler). Prints "kotlin: N passed, N failed".
#   scripts/kotlin-jvm-tests.sh           the tests
#   scripts/kotlin-jvm-tests.sh --bench [case…]   the FFI call-cost bench instead (release
#       library with the bench hooks; cases: bare status buffer string-reused u32 string async)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
KOTLIN_VERSION=2.4.20
JNA=/usr/share/java/jna.jar
JUNIT=/usr/share/java/junit-platform-console-standalone.jar
# ZXing core (Debian's 3.4.1; the sample ships 3.5.x through Gradle): the sample's QR frame
# decoder and its test.
ZXING=/usr/share/maven-repo/com/google/zxing/core/3.4.1/core-3.4.1.jar

if [ ! -f "$JNA" ] || [ ! -f "$JUNIT" ] || [ ! -f "$ZXING" ]; then
  echo "== installing libjna-java junit5 libzxing-core-java"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libjna-java junit5 libzxing-core-java >/dev/null
fi
KOTLINC=$TOOLS/kotlin-$KOTLIN_VERSION/bin/kotlinc
if [ ! -x "$KOTLINC" ]; then
  echo "== installing kotlin-compiler $KOTLIN_VERSION (npm)"
  mkdir -p "$TOOLS" && cd "$TOOLS"
  npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
  rm -rf package "kotlin-$KOTLIN_VERSION"
  tar xzf "kotlin-compiler-$KOTLIN_VERSION.tgz" && mv package "kotlin-$KOTLIN_VERSION" && rm "kotlin-compiler-$KOTLIN_VERSION.tgz"
  chmod +x "kotlin-$KOTLIN_VERSION"/bin/*
  cd "$ROOT"
fi
KLIB=$TOOLS/kotlin-$KOTLIN_VERSION/lib

if [ "${1:-}" = "--bench" ]; then
  # The shipped (release) profile plus the bench hooks (`--features test-hooks`:
  # bench_u32), with the bindings generated from that very library.
  shift
  TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  echo "== building the release libvouch_ffi (test-hooks) and generating its Kotlin bindings"
  cargo build --quiet -p vouch-ffi --features cli,test-hooks --bin uniffi-bindgen
  cargo build --quiet --release -p vouch-ffi --lib --features test-hooks
  BGEN=target/kotlin/bench-gen BOUT=target/kotlin/bench-classes
  rm -rf "$BGEN" "$BOUT" && mkdir -p "$BOUT"
  "$TARGET_DIR/debug/uniffi-bindgen" generate --library "$TARGET_DIR/release/libvouch_ffi.so" \
    --language kotlin --no-format --out-dir "$BGEN"
  BCP="$JNA:$KLIB/kotlinx-coroutines-core-jvm.jar"
  "$KOTLINC" -nowarn -jvm-target 17 -cp "$BCP" -d "$BOUT" "$BGEN" \
    android/vouch/src/test/kotlin/app/vouch/FfiBench.kt 2>&1 | grep -v '^warning:' || true
  exec java -Djna.library.path="$TARGET_DIR/release" -cp "$BOUT:$BCP:$KLIB/kotlin-stdlib.jar" \
    app.vouch.FfiBench "$@"
fi

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=debug

echo "== building libvouch_ffi (feature test-hooks) and vouch-server; generating Kotlin bindings"
cargo build --quiet -p vouch-server --bin vouch-server
# The tests call test hooks (ping_async, panic_probe) that the shipped library does not
# have, so the library and its bindings come from one build with the `test-hooks` feature
# (`cargo xtask bindings` never sets it). Library and generator in one (debug) build: same
# features, so nothing is rebuilt between them. The API (and its checksums) is the same in
# release, so the bench generates from this one too and builds only the release library.
cargo build --quiet -p vouch-ffi --features cli,test-hooks --lib --bin uniffi-bindgen
rm -rf target/kotlin/gen
"$TARGET_DIR/$PROFILE/uniffi-bindgen" generate --library "$TARGET_DIR/$PROFILE/libvouch_ffi.so" \
  --language kotlin --no-format --out-dir target/kotlin/gen >/dev/null
grep -q 'fun `pingAsync`' target/kotlin/gen/app/vouch/ffi/vouch_ffi.kt \
  || { echo "the generated Kotlin has no test hooks" >&2; exit 1; }

echo "== compiling Kotlin (bindings, facade, view models, tests)"
OUT=target/kotlin/classes
rm -rf "$OUT" && mkdir -p "$OUT"
CP="$JNA:$KLIB/kotlinx-coroutines-core-jvm.jar:$JUNIT:$ZXING"
# The sample's plain-Kotlin part (its camera frames' QR decoder) comes along with its test.
"$KOTLINC" -nowarn -jvm-target 17 -cp "$CP" -d "$OUT" \
  target/kotlin/gen android/vouch/src/main/kotlin android/vouch/src/test/kotlin \
  android/sample/src/main/kotlin/app/vouch/sample/QrFrames.kt android/sample/src/test/kotlin \
  2>&1 | grep -v '^warning:' || true
[ -f "$OUT/app/vouch/Vouch.class" ] && [ -f "$OUT/app/vouch/sample/QrFrames.class" ] \
  || { echo "kotlin compilation failed" >&2; exit 1; }

# The Android-only code (androidx view models, Keystore store, BiometricPrompt presence)
# and the bindings as the Gradle build generates them (android_cleaner), type-checked
# against JVM stubs of the Android APIs (android/jvm-stubs/README.md). Not a build.
echo "== type-checking src/androidMain against android/jvm-stubs"
rm -rf target/kotlin/gen-android target/kotlin/android-classes
"$TARGET_DIR/$PROFILE/uniffi-bindgen" generate --library "$TARGET_DIR/$PROFILE/libvouch_ffi.so" \
  --config bindings/uniffi-android.toml --language kotlin --no-format --out-dir target/kotlin/gen-android >/dev/null
grep -q 'android.system.SystemCleaner' target/kotlin/gen-android/app/vouch/ffi/vouch_ffi.kt \
  || { echo "bindings/uniffi-android.toml did not turn on android_cleaner" >&2; exit 1; }
"$KOTLINC" -nowarn -jvm-target 17 -cp "$JNA:$KLIB/kotlinx-coroutines-core-jvm.jar" -d target/kotlin/android-classes \
  android/jvm-stubs target/kotlin/gen-android android/vouch/src/main/kotlin android/vouch/src/androidMain/kotlin \
  2>&1 | grep -v '^warning:' || true
[ -f target/kotlin/android-classes/app/vouch/android/SetupViewModel.class ] \
  || { echo "the Android-only Kotlin does not compile against the stubs" >&2; exit 1; }

RUNCP="$OUT:$CP:$KLIB/kotlin-stdlib.jar"
JAVA_OPTS=(-Djna.library.path="$TARGET_DIR/debug" -Dfile.encoding=UTF-8)
export VOUCH_SERVER_BIN="$TARGET_DIR/debug/vouch-server"

echo "== running JUnit 5 on the JVM"
set +e
java "${JAVA_OPTS[@]}" -jar "$JUNIT" --class-path "$RUNCP" --select-package app.vouch \
  --disable-banner --details=tree 2>&1 | tee target/kotlin/junit.log
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE '\[ *[0-9]+ tests successful' target/kotlin/junit.log | grep -oE '[0-9]+' || echo 0)
failed=$(grep -oE '\[ *[0-9]+ tests failed' target/kotlin/junit.log | grep -oE '[0-9]+' || echo 0)
echo "kotlin: $passed passed, $failed failed"
if [ "$status" != 0 ] || [ "$failed" != 0 ] || [ "$passed" = 0 ]; then exit 1; fi
