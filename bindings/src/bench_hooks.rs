//! Trivial exports for the call-cost benches only (`--features test-hooks`, never in the
//! shipped library): the cheapest sync call there is, one returning a `u32` (no
//! `RustBuffer`), beside `core_version()` (a short `String` through a `RustBuffer`).
//! `android/vouch/src/test/kotlin/app/vouch/FfiBench.kt` and `ios/Sources/VouchBench`
//! call them when they are there.

/// Returns `value + 1` (wrapping): a sync call with a `u32` in and out.
#[uniffi::export]
pub fn bench_u32(value: u32) -> u32 {
    value.wrapping_add(1)
}
