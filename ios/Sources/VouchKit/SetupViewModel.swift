import Foundation
import VouchFFI
#if canImport(Combine)
import Combine
#endif

/// "m:ss" countdowns for the screens (the verify screen's code, the approval code on a new
/// device), at a given `now` so views re-render them each second and tests pass their own.
public enum Countdown {
    /// Whole seconds from `now` until `end` (0 once it passed).
    public static func seconds(until end: Date, now: Date) -> Int {
        max(0, Int(end.timeIntervalSince(now).rounded(.up)))
    }

    /// "4:59".
    public static func text(until end: Date, now: Date) -> String {
        let s = seconds(until: end, now: now)
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// "Verify your device": the emailed code's expiry (five minutes, counted down on screen),
/// when a new code may be asked for (re-sends are throttled), and what went wrong. The
/// countdown is computed for a given `now`, so the view re-renders it each second
/// (`TimelineView(.periodic(…))`) and the tests pass their own time.
public struct VerifyCode: Equatable, Sendable {
    /// When the code stops working (from the server, when known).
    public var expiresAt: Date?
    /// Before this, "Send a new code" would be refused (`.TooManyRequests`).
    public var resendAfter: Date?
    public var error: UserMessage?
    public var attemptsLeft: UInt32?
    /// The server said the code expired (or was voided): only a new code helps.
    public var expired: Bool

    public init(expiresAt: Date? = nil, resendAfter: Date? = nil, error: UserMessage? = nil, attemptsLeft: UInt32? = nil, expired: Bool = false) {
        self.expiresAt = expiresAt
        self.resendAfter = resendAfter
        self.error = error
        self.attemptsLeft = attemptsLeft
        self.expired = expired
    }

    /// Whole seconds until the code expires (0 once expired; nil when not known).
    public func secondsLeft(at now: Date) -> Int? {
        expiresAt.map { Countdown.seconds(until: $0, now: now) }
    }

    /// Expired by the server's word or by the clock: the screen says "This code expired".
    public func isExpired(at now: Date) -> Bool { expired || secondsLeft(at: now) == 0 }

    /// "4:59", counting down; nil when the expiry is not known.
    public func countdown(at now: Date) -> String? {
        expiresAt.map { Countdown.text(until: $0, now: now) }
    }

    /// Seconds until "Send a new code" works (0: now).
    public func resendIn(at now: Date) -> Int {
        resendAfter.map { Countdown.seconds(until: $0, now: now) } ?? 0
    }

    /// What the screen says under the code field at `now`: the error, else "expired", else
    /// the countdown.
    public func status(at now: Date) -> UserMessage? {
        if let error { return error }
        if isExpired(at: now) { return UserMessage(key: "error.code_expired") }
        return countdown(at: now).map { UserMessage(key: "setup.code_expires_in", arguments: [$0]) }
    }
}

/// The screens of trusted-session setup (mirrors Kotlin `SetupScreen`).
public enum SetupScreen: Equatable, Sendable {
    /// "Strengthen your account security": Start / Remind me later.
    case start
    /// Signed in but not secure: the banner (also after a restart), setup one tap away.
    case notSecure
    /// "Name your device", prefilled with the default name (editable).
    case nameDevice(suggested: String, error: UserMessage?)
    /// Registering `name` was refused at the device limit: what to do (disable one from a
    /// web device), then "Try again".
    case deviceLimit(name: String)
    /// "Verify your identity": the device is registered (e.g. before a restart) and no
    /// verification is under way: approve from a trusted device, or "I don't have access
    /// to my trusted device" (email code).
    case verifyIdentity(deviceName: String)
    /// "Verify your device": enter the emailed code.
    case verifyCode(VerifyCode)
    /// The 6-digit `code` ("482 913") to type on a device that holds the keys, the QR code
    /// of `qrPayload` for a phone's camera, the tries left; when `codeUsedUp` the code no
    /// longer works (three tries or ten minutes): offer "Get a new code".
    case waitingForApproval(code: String, qrPayload: String, runsLeft: UInt32, purpose: ApprovalPurpose, codeUsedUp: Bool)
    /// Trusted, verified by email only: no vault keys; "Ask for my vault keys" (a device
    /// that holds them approves). `error` when the last ask failed or was not approved.
    case emailOnly(error: UserMessage?)
    case trusted
    /// Denied, expired, wiped or failed: what happened; "Start again".
    case failed(UserMessage)
}

/// View model of the setup flow (mirrors Kotlin `SetupViewModel`). Plain Swift on the main
/// actor: `screen` is what a screen renders, `screens` streams it (current first);
/// on Apple it is also an `ObservableObject` for SwiftUI. No Combine needed elsewhere, so
/// the state machine is compiled and tested on Linux.
///
/// It starts from the saved state (`resume()` in `init`): after a restart a device waiting
/// for approval shows the same code again and waits again, one waiting for an email code
/// is back on "Verify your device" with the code's expiry, "Remind me later" is the
/// not-secure banner. No call's error is dropped: each lands on the screen as a
/// `UserMessage`.
@MainActor
public final class SetupViewModel {
    public private(set) var screen: SetupScreen = .start {
        willSet { changes.willChange() }
        didSet { changes.yield(screen) }
    }
    /// The current screen, then every change.
    public var screens: AsyncStream<SetupScreen> { changes.stream(current: screen) }
    let changes = Changes<SetupScreen>()
    /// While `waitingForApproval`: when the shown code stops working on this device (ten
    /// minutes after it was made; then "Get a new code"). Count it down with `Countdown`.
    public private(set) var approvalExpiresAt: Date?
    private let vouch: Vouch
    private var waiting: Task<Void, Never>?

    public init(vouch: Vouch) {
        self.vouch = vouch
        resume()
    }

    /// "Start": go to naming with the default name.
    public func start() {
        do {
            screen = .nameDevice(suggested: try vouch.defaultDeviceName(), error: nil)
        } catch {
            screen = .nameDevice(suggested: "", error: UserMessage(error))
        }
    }

    /// The screen of the saved state (called by `init`; call again when the state changed
    /// elsewhere, e.g. after signing in). An open approval request is shown again and
    /// waited for.
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
            case .emailCode(let expiresAt, let resendAfter):
                screen = .verifyCode(VerifyCode(expiresAt: expiresAt, resendAfter: resendAfter))
            case .approval:
                resumeWaiting(otherwise: .verifyIdentity(deviceName: deviceName))
            }
        case .trusted(_, _, _, _, let tier):
            resumeWaiting(otherwise: tier == .emailOnly ? .emailOnly(error: nil) : .trusted)
        case .denied:
            screen = .failed(UserMessage(key: "setup.denied"))
        case .expired:
            screen = .failed(UserMessage(key: "setup.expired"))
        case .wiped:
            screen = .failed(UserMessage(key: "error.device_wiped"))
        }
    }

    /// "Remind me later".
    public func remindMeLater() async {
        do {
            _ = try await vouch.remindMeLater()
            screen = .notSecure
        } catch {
            screen = .failed(UserMessage(error))
        }
    }

    /// Registers with `name`; verification by approval unless `byEmail` (first device).
    public func submitName(_ name: String, byEmail: Bool) async {
        do {
            _ = try await vouch.registerDevice(name: name)
        } catch VouchError.DeviceLimitReached {
            screen = .deviceLimit(name: name)
            return
        } catch {
            screen = .nameDevice(suggested: name, error: UserMessage(error))
            return
        }
        if byEmail { await sendCode() } else { await approvalOrEmail() }
    }

    /// Back to "Name your device" with `name` (from the device-limit screen, once a device
    /// was disabled from a web device, or to pick another name).
    public func editName(_ name: String) {
        stopWaiting()
        screen = .nameDevice(suggested: name, error: nil)
    }

    /// "Verify with a trusted device" on `verifyIdentity`.
    public func verifyWithTrustedDevice() async {
        await approvalOrEmail()
    }

    /// "I don't have access to my trusted device": stop waiting, use an email code.
    public func noAccessToTrustedDevice() async {
        stopWaiting()
        await sendCode()
    }

    /// "Send a new code" on "Verify your device" (throttled: the screen shows when it works
    /// again, and a refusal says so).
    public func resendCode() async {
        await sendCode()
    }

    /// Submits the emailed code.
    public func submitCode(_ code: String) async {
        var current = verifyCode
        current.error = nil
        do {
            let state = try await vouch.submitEmailCode(code)
            screen = state.isEmailOnly ? .emailOnly(error: nil) : .trusted
        } catch VouchError.WrongCode(let attemptsLeft) {
            current.error = UserMessage(VouchError.WrongCode(attemptsLeft: attemptsLeft))
            current.attemptsLeft = attemptsLeft
            screen = .verifyCode(current)
        } catch VouchError.CodeExpired {
            current.error = UserMessage(key: "error.code_expired")
            current.expired = true
            screen = .verifyCode(current)
        } catch {
            current.error = UserMessage(error)
            screen = .verifyCode(current)
        }
    }

    /// "Get a new code": the person asks; the request is replaced (fresh code, three tries).
    public func newCode() async {
        stopWaiting()
        await openAndWait { try await $0.newCode() }
    }

    /// An email-only device asks a device that holds the keys to share them: the same code
    /// and wait as an enrollment; when approved this device becomes a key holder.
    public func askForKeys() async {
        do {
            show(try await vouch.requestVaultKeys())
        } catch {
            screen = .emailOnly(error: UserMessage(error))
        }
    }

    /// Stops waiting (the screen goes away); the request stays open for `resume()`.
    public func stopWaiting() {
        waiting?.cancel()
        waiting = nil
    }

    private var verifyCode: VerifyCode {
        if case let .verifyCode(v) = screen { return v }
        return VerifyCode()
    }

    private func resumeWaiting(otherwise: SetupScreen) {
        do {
            if let p = try vouch.approvalPrompt() { show(p) } else { screen = otherwise }
        } catch {
            screen = .failed(UserMessage(error))
        }
    }

    private func sendCode() async {
        do {
            let state = try await vouch.requestEmailCode()
            if case let .verifying(_, _, _, .emailCode(expiresAt, resendAfter)) = state {
                screen = .verifyCode(VerifyCode(expiresAt: expiresAt, resendAfter: resendAfter))
            } else {
                screen = .verifyCode(VerifyCode())
            }
        } catch VouchError.TooManyRequests(let secs) {
            // Throttled: the code already sent still works; say when a new one can be asked.
            var current = verifyCode
            current.error = UserMessage(VouchError.TooManyRequests(retryAfterSecs: secs))
            if let secs { current.resendAfter = Date().addingTimeInterval(TimeInterval(secs)) }
            if case let .verifying(_, _, _, .emailCode(expiresAt, _)) = vouch.state, current.expiresAt == nil {
                current.expiresAt = expiresAt
            }
            screen = .verifyCode(current)
        } catch {
            var current = verifyCode
            current.error = UserMessage(error)
            screen = .verifyCode(current)
        }
    }

    /// Opens an approval request; when nobody can approve (the user's first device: the
    /// newer server answers 409 `email_code_required`), takes the email path by itself, as
    /// the core's `start_verification` does. (The server of this branch never answers
    /// that, so no test here reaches the second path.)
    private func approvalOrEmail() async {
        do {
            show(try await vouch.startApproval())
        } catch VouchError.Server(let code, _) where code == "email_code_required" {
            await sendCode()
        } catch {
            screen = .failed(UserMessage(error))
        }
    }

    private func openAndWait(_ open: (Vouch) async throws -> ApprovalPrompt) async {
        do {
            show(try await open(vouch))
        } catch {
            screen = .failed(UserMessage(error))
        }
    }

    private func show(_ p: ApprovalPrompt) {
        approvalExpiresAt = p.expiresAt
        screen = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: p.runsLeft, purpose: p.purpose, codeUsedUp: p.runsLeft == 0)
        waiting?.cancel()
        waiting = Task { [weak self, vouch] in
            let next: SetupScreen
            do {
                next = Self.settled(try await Self.waitSettling(vouch), purpose: p.purpose)
            } catch VouchError.InvalidState {
                // No request to wait for any more: on a trusted (email-only) device the event
                // loop can receive the shared keys and settle the request first. The saved
                // state says how it ended.
                next = Self.settled(vouch.state, purpose: p.purpose)
            } catch VouchError.CodeUsedUp {
                next = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: 0, purpose: p.purpose, codeUsedUp: true)
            } catch {
                if error is CancellationError { return }
                next = .failed(UserMessage(error))
            }
            if Task.isCancelled { return }
            self?.screen = next
        }
    }
}

extension SetupViewModel {
    /// `waitForApproval()`, asked once more after `device_not_pending`: when the decision
    /// lands between the core's status check and its event-stream connect, the server
    /// refuses the stream (409 `device_not_pending`: the device is no longer pending) and
    /// the core returns that error although the request is settled; the second wait starts
    /// with the status check and returns the decision. (A core fix is asked for; this stays
    /// harmless after it.) Any other error is the person's to see.
    nonisolated static func waitSettling(_ vouch: Vouch) async throws -> EnrollmentState {
        do {
            return try await vouch.waitForApproval()
        } catch VouchError.Server(let code, _) where code == "device_not_pending" {
            return try await vouch.waitForApproval()
        }
    }

    /// The screen once a wait for approval ended in `state`.
    static func settled(_ state: EnrollmentState, purpose: ApprovalPurpose) -> SetupScreen {
        switch state {
        case .trusted(_, _, _, _, let tier):
            if tier == .keyHolder { return .trusted }
            return .emailOnly(error: purpose == .shareKeys ? UserMessage(key: "setup.not_approved") : nil)
        case .denied: return .failed(UserMessage(key: "setup.denied"))
        case .expired: return .failed(UserMessage(key: "setup.expired"))
        case .verifying: return .failed(UserMessage(key: "setup.cancelled"))
        case .wiped: return .failed(UserMessage(key: "error.device_wiped"))
        case .signedOut, .untrusted: return .failed(UserMessage(key: "setup.start_again"))
        }
    }
}

extension EnrollmentState {
    /// Trusted, verified by email only (no vault keys until a key holder approves).
    var isEmailOnly: Bool {
        if case let .trusted(_, _, _, _, tier) = self { return tier == .emailOnly }
        return false
    }
}

/// "Trust this session?" for one request, as the approver shows it (mirrors Kotlin
/// `TrustThisSession`): the request's details, flags for an email-only requester and
/// another network, `warning` above the code field, "waiting for the new device…" while a
/// run is under way, and what went wrong (`error`, with its `errorKey` for localization).
public struct TrustThisSession: Equatable, Sendable {
    public let request: PendingRequest
    public var warning: String
    public var waitingForDevice = false
    public var error: String?
    public var errorKey: String?
    public var approved = false

    public init(request: PendingRequest) {
        self.request = request
        warning = request.purpose == .newRoot ? Vouch.newRootWarning() : Vouch.approverWarning()
    }

    /// An admin making another person's first key holder (`request.account`): say whose.
    public var anotherPersonsAccount: Bool { request.purpose == .newRoot }
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

    /// Why the list could not be loaded (offline, …); nil after a successful refresh.
    public private(set) var listError: UserMessage? {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }

    /// Loads the list from the server (the stream keeps it current meanwhile). On failure
    /// the list keeps what it had and `listError` says why.
    public func refresh() async {
        do {
            requests = try await vouch.refreshPendingRequests()
            listError = nil
        } catch {
            listError = UserMessage(error)
        }
    }

    /// Opens a request's details (the only place a code is entered). A request no longer
    /// pending opens nothing (the refreshed list no longer shows it).
    public func open(requestId: String) async {
        if let request = requests.first(where: { $0.requestId == requestId }) {
            selected = TrustThisSession(request: request)
            return
        }
        await refresh()
        selected = requests.first { $0.requestId == requestId }.map { TrustThisSession(request: $0) }
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
