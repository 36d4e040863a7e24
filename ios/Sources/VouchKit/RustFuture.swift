import Foundation
import VouchFFI
import VouchFFIFFI

/// A Rust future of the generated C API, polled from Swift with `Task` cancellation.
///
/// uniffi 0.32's generated `uniffiRustCallAsync` (Swift) polls a Rust future until it is
/// ready and never looks at `Task.isCancelled`, so cancelling the `Task` of a call that
/// waits for someone else (`waitForApproval()`) would not stop it. This is the same loop
/// with `withTaskCancellationHandler`: on cancellation it calls the future's `cancel`
/// (the C function uniffi exports for this; the Kotlin bindings reach the same end by
/// freeing the future), the pending poll is woken, and the call throws `CancellationError`.
/// Only for futures returning a `RustBuffer` or nothing, whose error type is `VouchError`.
enum RustFuture {
    /// A future returning a `RustBuffer` (lifted by `lift`).
    static func cancellable<T>(start: () -> UInt64, lift: (RustBuffer) throws -> T) async throws -> T {
        let buffer = try await drive(
            start(),
            poll: { ffi_vouch_ffi_rust_future_poll_rust_buffer($0, $1, $2) },
            cancel: { ffi_vouch_ffi_rust_future_cancel_rust_buffer($0) },
            free: { ffi_vouch_ffi_rust_future_free_rust_buffer($0) },
            complete: { ffi_vouch_ffi_rust_future_complete_rust_buffer($0, $1) })
        return try lift(buffer)
    }

    /// A future returning nothing (`runEvents()`).
    static func cancellableVoid(start: () -> UInt64) async throws {
        try await drive(
            start(),
            poll: { ffi_vouch_ffi_rust_future_poll_void($0, $1, $2) },
            cancel: { ffi_vouch_ffi_rust_future_cancel_void($0) },
            free: { ffi_vouch_ffi_rust_future_free_void($0) },
            complete: { ffi_vouch_ffi_rust_future_complete_void($0, $1) })
    }

    private static func drive<T>(
        _ handle: UInt64,
        poll: (UInt64, @escaping @convention(c) (UInt64, Int8) -> Void, UInt64) -> Void,
        cancel: @escaping @Sendable (UInt64) -> Void,
        free: @escaping @Sendable (UInt64) -> Void,
        complete: (UInt64, UnsafeMutablePointer<RustCallStatus>) -> T
    ) async throws -> T {
        let future = Handle(handle, cancel: cancel, free: free)
        defer { future.free() }
        await withTaskCancellationHandler {
            while true {
                let result: Int8 = await withUnsafeContinuation { continuation in
                    let box = Unmanaged.passRetained(Wake(continuation)).toOpaque()
                    poll(
                        future.handle,
                        { data, result in
                            let box = Unmanaged<Wake>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(data))!)
                            box.takeRetainedValue().continuation.resume(returning: result)
                        },
                        UInt64(UInt(bitPattern: box)))
                }
                if result == 0 { break } // UNIFFI_RUST_FUTURE_POLL_READY
            }
        } onCancel: {
            future.cancel()
        }
        var status = RustCallStatus()
        let value = complete(future.handle, &status)
        switch status.code {
        case 0: return value
        case 1: throw try FfiConverterTypeVouchError_lift(status.errorBuf)
        case 3: throw CancellationError()
        default:
            // A panic or an unexpected error: the buffer holds a UTF-8 message.
            let reason = status.errorBuf.data.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(status.errorBuf.len)), as: UTF8.self) } ?? "unknown"
            var freeStatus = RustCallStatus()
            ffi_vouch_ffi_rustbuffer_free(status.errorBuf, &freeStatus)
            throw VouchError.Internal(reason: reason)
        }
    }

    /// The continuation of one poll, handed through C as an opaque pointer.
    private final class Wake {
        let continuation: UnsafeContinuation<Int8, Never>
        init(_ continuation: UnsafeContinuation<Int8, Never>) { self.continuation = continuation }
    }

    /// The future's handle; `cancel` (from the cancelling thread) and `free` (at the end of
    /// the call) never overlap and `cancel` never follows `free`.
    private final class Handle: @unchecked Sendable {
        let handle: UInt64
        private let cancelFn: @Sendable (UInt64) -> Void
        private let freeFn: @Sendable (UInt64) -> Void
        private let lock = NSLock()
        private var freed = false
        init(_ handle: UInt64, cancel: @escaping @Sendable (UInt64) -> Void, free: @escaping @Sendable (UInt64) -> Void) {
            self.handle = handle
            cancelFn = cancel
            freeFn = free
        }
        func cancel() {
            lock.withLock { if !freed { cancelFn(handle) } }
        }
        func free() {
            lock.withLock {
                freed = true
                freeFn(handle)
            }
        }
    }
}
