//! The Rust side of the FFI call-cost comparison: the same trivial calls the Kotlin bench
//! makes through JNA (`scripts/kotlin-jvm-tests.sh --bench`), made directly from Rust.
//!
//! `cargo bench -p vouch-ffi --features test-hooks --bench calls`

// A bench: a failed unwrap is a failed measurement, not an app crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn calls(c: &mut Criterion) {
    // The shipped profile keeps a panic catchable (`panic = "unwind"`, and
    // `-C force-unwind-tables=no` keeps the tables of every function that may unwind):
    // checked here, in the very profile the numbers below are for.
    assert!(matches!(
        vouch_ffi::panic_probe(),
        Err(vouch_ffi::VouchError::Internal { .. })
    ));
    c.bench_function("rust sync core_version()", |b| {
        b.iter(|| black_box(vouch_ffi::core_version()))
    });
    #[cfg(feature = "test-hooks")]
    c.bench_function("rust sync bench_u32()", |b| {
        b.iter(|| black_box(vouch_ffi::bench_hooks::bench_u32(black_box(7))))
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    c.bench_function("rust async ping_async() (block_on)", |b| {
        b.iter(|| black_box(rt.block_on(vouch_ffi::ping_async(7))))
    });
}

criterion_group!(benches, calls);
criterion_main!(benches);
