// Apple only: compiled where LocalAuthentication exist (not on Linux).
#if canImport(LocalAuthentication)
import Foundation
import LocalAuthentication
import VouchFFI

/// `UserPresence` over LocalAuthentication: before a phone approves a new device, the core
/// asks this, and the person confirms with Face ID, Touch ID or the device passcode
/// (`.deviceOwnerAuthentication`). A refusal, a cancel, a timeout or a device without a
/// passcode answers `false`, and nothing is sent.
///
/// Pass it to `Vouch(…, presence: LocalAuthenticationPresence())`. The core calls
/// `confirmPresence` on the thread that runs the approval (the facade's `approve` is a
/// nonisolated async call, so never the main actor), and this blocks that thread on a
/// semaphore until the system sheet answers. Called on the main thread it refuses rather
/// than freeze the UI.
public final class LocalAuthenticationPresence: UserPresence, @unchecked Sendable {
    private let timeout: DispatchTimeInterval
    private let cancelTitle: String?

    public init(timeout: DispatchTimeInterval = .seconds(120), cancelTitle: String? = nil) {
        self.timeout = timeout
        self.cancelTitle = cancelTitle
    }

    public func confirmPresence(reason: String) -> Bool {
        if Thread.isMainThread { return false }
        let context = LAContext()
        if let cancelTitle { context.localizedCancelTitle = cancelTitle }
        var unavailable: NSError?
        guard context.canEvaluatePolicy(.deviceOwnerAuthentication, error: &unavailable) else {
            // No passcode set (or biometry locked out with no fallback): cannot approve.
            return false
        }
        let answered = DispatchSemaphore(value: 0)
        let result = Answer()
        context.evaluatePolicy(.deviceOwnerAuthentication, localizedReason: reason) { success, _ in
            result.set(success)
            answered.signal()
        }
        if answered.wait(timeout: .now() + timeout) == .timedOut {
            context.invalidate()
            return false
        }
        return result.get()
    }

    /// The reply, handed from LocalAuthentication's queue to the waiting thread.
    private final class Answer: @unchecked Sendable {
        private let lock = NSLock()
        private var confirmed = false
        func set(_ value: Bool) { lock.withLock { confirmed = value } }
        func get() -> Bool { lock.withLock { confirmed } }
    }
}
#endif
