import Foundation
import VouchFFI
#if canImport(Combine)
import Combine
#endif

/// The screens of trusted-session setup (mirrors Kotlin `SetupScreen`, plus
/// `verifyIdentity` for a device registered before a restart).
public enum SetupScreen: Equatable, Sendable {
    /// "Strengthen your account security": Start / Remind me later.
    case start
    /// Signed in but not secure: the banner (also after a restart).
    case notSecure
    /// "Name your device", prefilled with the default name.
    case nameDevice(suggested: String, error: String?)
    /// "Verify your identity": the device is registered (e.g. before a restart) and no
    /// verification is under way: approve from a trusted device, or "I don't have access
    /// to my trusted device" (email code).
    case verifyIdentity(deviceName: String)
    /// "Verify your device": enter the emailed code.
    case verifyCode(error: String?, attemptsLeft: UInt32?)
    /// The 6-digit `code` ("482 913") to type on a device that holds the keys, the QR code
    /// of `qrPayload` for a phone's camera, the tries left; when `codeUsedUp` the code no
    /// longer works (three tries or ten minutes): offer "Get a new code".
    case waitingForApproval(code: String, qrPayload: String, runsLeft: UInt32, purpose: ApprovalPurpose, codeUsedUp: Bool)
    case trusted
    /// Denied, expired or failed; start again.
    case failed(String)
}

/// View model of the setup flow (mirrors Kotlin `SetupViewModel`). Plain Swift on the main
/// actor: `screen` is what a screen renders, `screens` streams it (current first);
/// on Apple it is also an `ObservableObject` for SwiftUI. No Combine needed elsewhere, so
/// the state machine is compiled and tested on Linux.
@MainActor
public final class SetupViewModel {
    public private(set) var screen: SetupScreen = .start {
        willSet { changes.willChange() }
        didSet { changes.yield(screen) }
    }
    /// The current screen, then every change.
    public var screens: AsyncStream<SetupScreen> { changes.stream(current: screen) }
    let changes = Changes<SetupScreen>()
    private let vouch: Vouch
    private var waiting: Task<Void, Never>?

    public init(vouch: Vouch) {
        self.vouch = vouch
    }

    /// "Start": go to naming with the default name.
    public func start() {
        screen = .nameDevice(suggested: (try? vouch.defaultDeviceName()) ?? "", error: nil)
    }

    /// After a restart (or on any screen's first appearance): the screen of the saved
    /// state. An open approval request is shown again and waited for.
    public func resume() {
        switch vouch.state {
        case .signedOut:
            screen = .start
        case .untrusted(_, let remindedLater):
            screen = remindedLater ? .notSecure : .start
        case .verifying(_, _, let deviceName, let verification):
            switch verification {
            case .notStarted:
                screen = .verifyIdentity(deviceName: deviceName)
            case .emailCode:
                screen = .verifyCode(error: nil, attemptsLeft: nil)
            case .approval:
                if let p = try? vouch.approvalPrompt() { show(p) } else { screen = .verifyIdentity(deviceName: deviceName) }
            }
        case .trusted:
            if let p = try? vouch.approvalPrompt() { show(p) } else { screen = .trusted }
        case .denied:
            screen = .failed(Self.denied)
        case .expired:
            screen = .failed(Self.expired)
        case .wiped:
            screen = .failed(UserMessage(key: "error.device_wiped").text)
        }
    }

    /// "Remind me later".
    public func remindMeLater() async {
        do {
            _ = try await vouch.remindMeLater()
            screen = .notSecure
        } catch {
            screen = .failed(UserMessage(error).text)
        }
    }

    /// Registers with `name`; verification by approval unless `byEmail` (first device).
    public func submitName(_ name: String, byEmail: Bool) async {
        do {
            _ = try await vouch.registerDevice(name: name)
        } catch {
            screen = .nameDevice(suggested: name, error: UserMessage(error).text)
            return
        }
        if byEmail { await sendCode() } else { await openAndWait { try await $0.startApproval() } }
    }

    /// "Verify with a trusted device" on `verifyIdentity`.
    public func verifyWithTrustedDevice() async {
        await openAndWait { try await $0.startApproval() }
    }

    /// "I don't have access to my trusted device": stop waiting, use an email code.
    public func noAccessToTrustedDevice() async {
        waiting?.cancel()
        await sendCode()
    }

    /// Submits the emailed code.
    public func submitCode(_ code: String) async {
        do {
            _ = try await vouch.submitEmailCode(code)
            screen = .trusted
        } catch VouchError.WrongCode(let attemptsLeft) {
            screen = .verifyCode(error: "Wrong code", attemptsLeft: attemptsLeft)
        } catch {
            screen = .verifyCode(error: UserMessage(error).text, attemptsLeft: nil)
        }
    }

    /// "Get a new code": the person asks; the request is replaced (fresh code, three tries).
    public func newCode() async {
        waiting?.cancel()
        await openAndWait { try await $0.newCode() }
    }

    /// An email-only device asks a device that holds the keys to share them: the same code
    /// and wait as an enrollment; when approved this device becomes a key holder.
    public func askForKeys() async {
        await openAndWait { try await $0.requestVaultKeys() }
    }

    /// Stops waiting (the screen goes away); the request stays open for `resume()`.
    public func stopWaiting() {
        waiting?.cancel()
        waiting = nil
    }

    private static let denied = "This device was denied"
    private static let expired = "The request expired"

    private func sendCode() async {
        do {
            _ = try await vouch.requestEmailCode()
            screen = .verifyCode(error: nil, attemptsLeft: nil)
        } catch {
            screen = .verifyCode(error: UserMessage(error).text, attemptsLeft: nil)
        }
    }

    private func openAndWait(_ open: (Vouch) async throws -> ApprovalPrompt) async {
        do {
            show(try await open(vouch))
        } catch {
            screen = .failed(UserMessage(error).text)
        }
    }

    private func show(_ p: ApprovalPrompt) {
        screen = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: p.runsLeft, purpose: p.purpose, codeUsedUp: p.runsLeft == 0)
        waiting?.cancel()
        waiting = Task { [weak self, vouch] in
            let next: SetupScreen
            do {
                switch try await vouch.waitForApproval() {
                case .trusted(_, _, _, _, let tier):
                    next = (tier == .keyHolder || p.purpose != .shareKeys) ? .trusted : .failed("The request was not approved")
                case .denied: next = .failed(Self.denied)
                case .expired: next = .failed(Self.expired)
                case .verifying: next = .failed("The request was cancelled; start again")
                default: next = .failed("Something went wrong")
                }
            } catch VouchError.CodeUsedUp {
                next = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: 0, purpose: p.purpose, codeUsedUp: true)
            } catch {
                if error is CancellationError { return }
                next = .failed(UserMessage(error).text)
            }
            if Task.isCancelled { return }
            self?.screen = next
        }
    }
}

/// "Trust this session?" for one request, as the approver shows it (mirrors Kotlin
/// `TrustThisSession`): the request's details, flags for an email-only requester and
/// another network, `warning` above the code field, "waiting for the new device…" while a
/// run is under way, and what went wrong (`error`, with its `errorKey` for localization).
public struct TrustThisSession: Equatable, Sendable {
    public let request: PendingRequest
    public var warning: String = Vouch.approverWarning()
    public var waitingForDevice = false
    public var error: String?
    public var errorKey: String?
    public var approved = false

    public init(request: PendingRequest) {
        self.request = request
    }

    /// The requester was verified by email only (it asks for keys): flag it.
    public var emailOnly: Bool { request.requesterTier == .emailOnly }
    /// It asks from another network than this device's: flag it.
    public var otherNetwork: Bool { request.otherNetwork }
    /// Approved already, waiting for the new device to acknowledge.
    public var approvedWaitingForDevice: Bool { request.status == .approved }
}

/// View model of "Trust this session?" on an approver (mirrors Kotlin `ApprovalViewModel`).
/// The code field lives only on a request's details (`open` first; a notification opens the
/// details, never a bare code field); Approve runs the PAKE with the typed code and, on
/// phones, the app's user-presence check first.
@MainActor
public final class ApprovalViewModel {
    /// The requests to list (fed by the client's listener).
    public private(set) var requests: [PendingRequest] = [] {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }
    /// The request whose "Trust this session?" screen is open, if any.
    public private(set) var selected: TrustThisSession? {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }
    /// `selected`, then every change of the view model.
    public var updates: AsyncStream<TrustThisSession?> { changes.stream(current: selected) }
    let changes = Changes<TrustThisSession?>()
    private let vouch: Vouch
    private let subscription = TaskBox()

    public init(vouch: Vouch) {
        self.vouch = vouch
        let stream = vouch.pendingRequests
        subscription.task = Task { [weak self] in
            for await list in stream { self?.requests = list }
        }
    }

    public func refresh() async {
        // The list keeps what it had on failure; the screen says why on the next action.
        if let list = try? await vouch.refreshPendingRequests() { requests = list }
    }

    /// Opens a request's details (the only place a code is entered).
    public func open(requestId: String) async {
        var request = requests.first { $0.requestId == requestId }
        if request == nil {
            request = (try? await vouch.refreshPendingRequests())?.first { $0.requestId == requestId }
        }
        selected = request.map { TrustThisSession(request: $0) }
    }

    /// Back to the list.
    public func close() {
        selected = nil
    }

    /// Approve with the code the person typed (the new device must be showing it).
    public func approve(code: String) async {
        await decide { try await $0.approve(requestId: $1, code: code) }
    }

    /// Approve with the QR text this app's camera scanned on this screen.
    public func approveScanned(_ scanned: String) async {
        await decide { try await $0.approveScanned(requestId: $1, scanned: scanned) }
    }

    public func deny() async {
        guard let s = selected else { return }
        do {
            try await vouch.deny(requestId: s.request.requestId)
            selected = nil
        } catch {
            let m = Self.message(error)
            selected?.error = m.text
            selected?.errorKey = m.key
        }
    }

    private func decide(_ run: (Vouch, String) async throws -> Void) async {
        guard var s = selected else { return }
        s.error = nil
        s.errorKey = nil
        s.waitingForDevice = true
        selected = s
        do {
            try await run(vouch, s.request.requestId)
            s.approved = true
        } catch {
            let m = Self.message(error)
            s.error = m.text
            s.errorKey = m.key
        }
        s.waitingForDevice = false
        selected = s
    }

    /// On this screen an invalid input can only be the typed code.
    private static func message(_ error: Error) -> UserMessage {
        if case VouchError.InvalidInput = error { return UserMessage(key: "approval.code_is_six_digits") }
        return UserMessage(error)
    }
}

/// Change notification for the view models: an `AsyncStream` per observer everywhere, and
/// on Apple the `ObservableObjectPublisher` SwiftUI listens to.
@MainActor
final class Changes<Value: Sendable> {
    #if canImport(Combine)
    nonisolated let publisher = ObservableObjectPublisher()
    #endif
    private var continuations: [UUID: AsyncStream<Value>.Continuation] = [:]

    func willChange() {
        #if canImport(Combine)
        publisher.send()
        #endif
    }

    func yield(_ value: Value) {
        for c in continuations.values { c.yield(value) }
    }

    func stream(current: Value) -> AsyncStream<Value> {
        AsyncStream { continuation in
            let id = UUID()
            continuation.yield(current)
            continuations[id] = continuation
            continuation.onTermination = { [weak self] _ in
                Task { @MainActor in self?.continuations.removeValue(forKey: id) }
            }
        }
    }
}

/// Cancels its task when the owner goes away.
final class TaskBox: @unchecked Sendable {
    var task: Task<Void, Never>?
    deinit { task?.cancel() }
}

#if canImport(Combine)
extension SetupViewModel: ObservableObject {
    public nonisolated var objectWillChange: ObservableObjectPublisher { changes.publisher }
}

extension ApprovalViewModel: ObservableObject {
    public nonisolated var objectWillChange: ObservableObjectPublisher { changes.publisher }
}
#endif
