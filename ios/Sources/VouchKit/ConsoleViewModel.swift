import Foundation
#if canImport(Combine)
import Combine
#endif

/// "Approve a web console sign-in?" for one waiting browser (mirrors Kotlin
/// `ApproveConsole`): which browser, from where and when (flagged from another network),
/// `warning` above the code field, and what went wrong (`error`, with its `errorKey`).
public struct ApproveConsole: Equatable, Sendable {
    public let session: ConsoleSession
    public var warning: String = Vouch.approverWarning()
    public var working = false
    public var error: String?
    public var errorKey: String?
    public var approved = false
    /// The sign-in ended (too many wrong codes, expired, ended elsewhere): the browser must
    /// sign in again.
    public var ended = false

    public init(session: ConsoleSession) {
        self.session = session
    }

    /// It signed in from another network than this device's: flag it.
    public var otherNetwork: Bool { session.otherNetwork }
}

/// View model of the web console's sign-ins on a key holder (mirrors Kotlin `ConsoleFlow`):
/// the waiting browsers (`waiting`, kept current by the event loop's `console_requested`),
/// one opened with its details before the code field (`open`), Approve with the six digits
/// the browser shows (on phones after the OS's user presence, inside the call), and ending a
/// session. The browser never gets a key: it manages devices with this device's powers.
@MainActor
public final class ConsoleViewModel {
    /// Every console session of the user (pending and active).
    public private(set) var sessions: [ConsoleSession] = [] {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }
    /// The browsers waiting for approval.
    public var waiting: [ConsoleSession] { sessions.filter { $0.status == .pending } }
    /// The sign-in whose "Approve a web console sign-in?" screen is open, if any.
    public private(set) var selected: ApproveConsole? {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }
    /// Why the list could not be loaded (offline, an email-only device, …); nil after a
    /// successful refresh.
    public private(set) var listError: UserMessage? {
        willSet { changes.willChange() }
        didSet { changes.yield(selected) }
    }
    /// `selected`, then every change of the view model (the list included).
    public var updates: AsyncStream<ApproveConsole?> { changes.stream(current: selected) }
    let changes = Changes<ApproveConsole?>()
    private let vouch: Vouch
    private let subscription = TaskBox()

    public init(vouch: Vouch) {
        self.vouch = vouch
        let stream = vouch.consoleSessions
        subscription.task = Task { [weak self] in
            for await list in stream { self?.sessions = list }
        }
    }

    /// Loads the list from the server (the event loop keeps it current meanwhile).
    public func refresh() async {
        do {
            sessions = try await vouch.refreshConsoleSessions()
            listError = nil
        } catch {
            listError = UserMessage(error)
        }
    }

    /// Opens a waiting sign-in's details (the only place its code is entered).
    public func open(sessionId: String) {
        selected = waiting.first { $0.id == sessionId }.map { ApproveConsole(session: $0) }
    }

    /// Back to the list.
    public func close() {
        selected = nil
    }

    /// Approve with the code the person typed (the six digits the browser shows).
    public func approve(code: String) async {
        guard var s = selected else { return }
        if code.filter(\.isNumber).count != 6 {
            s.error = UserMessage(key: "approval.code_is_six_digits").text
            s.errorKey = "approval.code_is_six_digits"
            selected = s
            return
        }
        s.error = nil
        s.errorKey = nil
        s.working = true
        selected = s
        do {
            _ = try await vouch.approveConsole(sessionId: s.session.id, code: code)
            s.approved = true
        } catch {
            let m: UserMessage
            switch error {
            case VouchError.CodeExpired, VouchError.RequestExpired:
                s.ended = true
                m = UserMessage(key: "console.sign_in_ended")
            default:
                m = UserMessage(error)
            }
            s.error = m.text
            s.errorKey = m.key
        }
        s.working = false
        selected = s
        await refresh()
    }

    /// Ends a console session (a waiting browser that is not the person's, or an active one).
    public func end(sessionId: String) async {
        do {
            try await vouch.revokeConsole(sessionId: sessionId)
            if selected?.session.id == sessionId { selected = nil }
            await refresh()
        } catch {
            listError = UserMessage(error)
        }
    }
}

#if canImport(Combine)
extension ConsoleViewModel: ObservableObject {
    public nonisolated var objectWillChange: ObservableObjectPublisher { changes.publisher }
}
#endif
