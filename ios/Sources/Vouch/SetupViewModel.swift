import Foundation
import VouchFFI

/// The screens of trusted-session setup (mirrors Kotlin `SetupScreen`).
public enum SetupScreen: Equatable {
    case start
    case notSecure
    case nameDevice(suggested: String, error: String?)
    case verifyCode(error: String?, attemptsLeft: UInt32?)
    /// The 6-digit `code` ("482 913") to type on a device that holds the keys, the QR code
    /// of `qrPayload` for a phone's camera, the tries left; when `codeUsedUp` the code no
    /// longer works (three tries or ten minutes): offer "Get a new code".
    case waitingForApproval(code: String, qrPayload: String, runsLeft: UInt32, purpose: ApprovalPurpose, codeUsedUp: Bool)
    case trusted
    case failed(String)
}

/// View model of the setup flow (mirrors Kotlin `SetupViewModel` one to one).
@MainActor
public final class SetupViewModel: ObservableObject {
    @Published public private(set) var screen: SetupScreen = .start
    private let vouch: Vouch
    private var waiting: Task<Void, Never>?

    public init(vouch: Vouch) {
        self.vouch = vouch
    }

    public func start() {
        screen = .nameDevice(suggested: (try? vouch.defaultDeviceName()) ?? "", error: nil)
    }

    /// After a restart: a request still open is shown again and waited for.
    public func resume() {
        if let p = try? vouch.approvalPrompt() { show(p) }
    }

    public func remindMeLater() async {
        _ = try? await vouch.remindMeLater()
        screen = .notSecure
    }

    public func submitName(_ name: String, byEmail: Bool) async {
        do {
            _ = try await vouch.registerDevice(name: name)
        } catch {
            screen = .nameDevice(suggested: name, error: "\(error)")
            return
        }
        if byEmail { await sendCode() } else { await openAndWait { try await $0.startApproval() } }
    }

    public func noAccessToTrustedDevice() async {
        waiting?.cancel()
        await sendCode()
    }

    public func submitCode(_ code: String) async {
        do {
            _ = try await vouch.submitEmailCode(code)
            screen = .trusted
        } catch VouchError.WrongCode(let attemptsLeft) {
            screen = .verifyCode(error: "Wrong code", attemptsLeft: attemptsLeft)
        } catch {
            screen = .verifyCode(error: "\(error)", attemptsLeft: nil)
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

    private func sendCode() async {
        _ = try? await vouch.requestEmailCode()
        screen = .verifyCode(error: nil, attemptsLeft: nil)
    }

    private func openAndWait(_ open: (Vouch) async throws -> ApprovalPrompt) async {
        do {
            show(try await open(vouch))
        } catch {
            screen = .failed("\(error)")
        }
    }

    private func show(_ p: ApprovalPrompt) {
        screen = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: p.runsLeft, purpose: p.purpose, codeUsedUp: p.runsLeft == 0)
        waiting?.cancel()
        waiting = Task { [vouch] in
            do {
                let state = try await vouch.waitForApproval()
                if Task.isCancelled { return }
                switch state {
                case .trusted(_, _, _, _, let tier):
                    screen = (tier == .keyHolder || p.purpose != .shareKeys) ? .trusted : .failed("The request was not approved")
                case .denied: screen = .failed("This device was denied")
                case .expired: screen = .failed("The request expired")
                case .verifying: screen = .failed("The request was cancelled; start again")
                default: screen = .failed("Something went wrong")
                }
            } catch VouchError.CodeUsedUp {
                if Task.isCancelled { return }
                screen = .waitingForApproval(code: p.code, qrPayload: p.qrPayload, runsLeft: 0, purpose: p.purpose, codeUsedUp: true)
            } catch VouchError.ApprovalFailed {
                if Task.isCancelled { return }
                screen = .failed("The approval could not be completed on this device; start again")
            } catch {
                if Task.isCancelled { return }
                screen = .failed("\(error)")
            }
        }
    }
}

/// "Trust this session?" for one request, as the approver shows it (mirrors Kotlin
/// `TrustThisSession`): the request's details, flags for an email-only requester and
/// another network, `warning` above the code field, "waiting for the new device…" while a
/// run is under way, and what went wrong.
public struct TrustThisSession: Equatable {
    public let request: PendingRequest
    public var warning: String = Vouch.approverWarning()
    public var waitingForDevice = false
    public var error: String?
    public var approved = false

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
public final class ApprovalViewModel: ObservableObject {
    @Published public private(set) var requests: [PendingRequest] = []
    @Published public private(set) var selected: TrustThisSession?
    private let vouch: Vouch

    public init(vouch: Vouch) {
        self.vouch = vouch
        Task { [weak self, vouch] in
            for await list in vouch.pendingRequests { self?.requests = list }
        }
    }

    public func refresh() async {
        _ = try? await vouch.refreshPendingRequests()
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
            selected?.error = Self.message(error)
        }
    }

    private func decide(_ run: (Vouch, String) async throws -> Void) async {
        guard var s = selected else { return }
        s.error = nil
        s.waitingForDevice = true
        selected = s
        do {
            try await run(vouch, s.request.requestId)
            s.approved = true
        } catch {
            s.error = Self.message(error)
        }
        s.waitingForDevice = false
        selected = s
    }

    private static func message(_ error: Error) -> String {
        switch error {
        case VouchError.CodeMismatch: return "The code does not match the one on the new device. Check it and try again."
        case VouchError.NoAnswer: return "The new device did not answer. Is it still showing the code?"
        case VouchError.CodeUsedUp: return "This code can no longer be used. Ask for a new code on the new device."
        case VouchError.UserPresenceRequired: return "Approving needs Face ID, Touch ID or your passcode."
        case VouchError.InvalidQrCode: return "This QR code does not belong to this request."
        case VouchError.InvalidInput: return "The code is six digits."
        case VouchError.AlreadyDecided: return "This request was already decided."
        case VouchError.RequestExpired: return "This request expired."
        case VouchError.KeyHolderRequired: return "Only a device that holds your vault keys can approve."
        case VouchError.Offline: return "You are offline."
        default: return "\(error)"
        }
    }
}
