// Cost of one trivial FFI call from Swift (sync and async), printed as µs per call.
// Run by `scripts/swift-tests.sh --bench` (release library, `swift run -c release`); the
// Kotlin figures come from `scripts/kotlin-jvm-tests.sh --bench`, the Rust side from
// `cargo bench -p vouch-ffi`.
import Dispatch
import Foundation
import VouchKit

func measure(_ name: String, _ n: Int, _ body: () -> Void) {
    for _ in 0..<(n / 10) { body() } // warm-up
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<n { body() }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
    print(String(format: "swift %-34@ %10.3f µs/call  (%d calls)", name as NSString, ns / 1000, n))
}

func measureAsync(_ name: String, _ n: Int, _ body: () async -> Void) async {
    for _ in 0..<(n / 10) { await body() }
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<n { await body() }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
    print(String(format: "swift %-34@ %10.3f µs/call  (%d calls)", name as NSString, ns / 1000, n))
}

var sink = 0
measure("sync coreVersion()", 200_000) { sink &+= coreVersion().utf8.count }
await measureAsync("async await pingAsync(value:)", 50_000) { sink &+= Int(await pingAsync(value: 7)) }
if sink == 42 { print(sink) }
