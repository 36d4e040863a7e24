// Cost of one trivial FFI call from Swift (sync and async), printed as µs per call.
// Run by `scripts/swift-tests.sh --bench` (release library, `swift run -c release`); the
// Kotlin figures come from `scripts/kotlin-jvm-tests.sh --bench`, the Rust side from
// `cargo bench -p vouch-ffi`.
import Dispatch
import Foundation
import VouchFFIFFI
import VouchKit

func measure(_ name: String, _ n: Int, _ body: () -> Void) {
    for _ in 0..<(n / 10) { body() } // warm-up
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<n { body() }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
    report(name, ns, n)
}

func measureAsync(_ name: String, _ n: Int, _ body: () async -> Void) async {
    for _ in 0..<(n / 10) { await body() }
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<n { await body() }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
    report(name, ns, n)
}

func report(_ name: String, _ ns: Double, _ n: Int) {
    let padded = name.padding(toLength: 42, withPad: " ", startingAt: 0)
    print("swift \(padded) \(String(format: "%9.3f", ns / 1000)) µs/call  (\(n) calls)")
}

var sink = 0
measure("sync coreVersion()", 200_000) { sink &+= coreVersion().utf8.count }
await measureAsync("async await pingAsync(value:)", 50_000) { sink &+= Int(await pingAsync(value: 7)) }

// Where the async time goes. The same Rust future driven by hand through the C API, with
// no Swift continuation: the Rust side (future object, one poll through the tokio
// compatibility layer, complete, free).
var polled: Int8 = -1
measure("  Rust side: new+poll+complete+free", 200_000) {
    let future = uniffi_vouch_ffi_fn_func_ping_async(7)
    ffi_vouch_ffi_rust_future_poll_u32(future, { _, result in polled = result }, 0)
    var status = RustCallStatus()
    sink &+= Int(ffi_vouch_ffi_rust_future_complete_u32(future, &status))
    ffi_vouch_ffi_rust_future_free_u32(future)
}
// The Swift side alone: an async call that suspends on a continuation resumed at once,
// as the generated code does for every poll (the task is re-enqueued on the global
// executor, usually another thread).
await measureAsync("  Swift side: suspend+resume (no Rust)", 50_000) {
    sink &+= Int(await withUnsafeContinuation { (c: UnsafeContinuation<Int8, Never>) in c.resume(returning: 0) })
}
// Resumed from another thread, as Rust's waker does when the future is not ready at once.
await measureAsync("  Swift side: resume from a thread", 20_000) {
    sink &+= Int(await withUnsafeContinuation { (c: UnsafeContinuation<Int8, Never>) in
        DispatchQueue.global().async { c.resume(returning: 0) }
    })
}
if sink == 42 { print(sink) }
