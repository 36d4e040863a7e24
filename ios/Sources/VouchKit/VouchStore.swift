import Foundation
import VouchFFI
#if canImport(Combine)
import Combine
#endif

/// The app-wide store: the one `Vouch` client of a profile in this process, its enrollment
/// state, the view models every screen shares, and the event loop while the device is
/// trusted. As element-x-ios keeps one client per session in its app coordinator, an app
/// makes one store at launch (`VouchStore.open(…)`, from its `App`) and hands it to its
/// views; opening the same profile again returns the same store, so a second scene or a
/// re-created view never opens a second client on the same database.
///
/// Main actor: views read it directly; the Rust work of each call runs on Rust's own
/// threads (uniffi polls the future, the work is not on the caller's thread), and the
/// blocking presence check of `approve` is off the main actor (`Vouch.approve` is
/// nonisolated). On Apple it is an `ObservableObject`.
@MainActor
public final class VouchStore {
    public let vouch: Vouch
    /// The enrollment state, kept current by the client's listener.
    public private(set) var state: EnrollmentState {
        willSet { changes.willChange() }
        didSet { changes.yield(state) }
    }
    /// Why the last sign-in failed (nil after a success).
    public private(set) var signInError: UserMessage? {
        willSet { changes.willChange() }
        didSet { changes.yield(state) }
    }
    /// Why the event loop stopped with an error (nil while it runs or after a clean end).
    public private(set) var eventsError: UserMessage? {
        willSet { changes.willChange() }
        didSet { changes.yield(state) }
    }
    public let setup: SetupViewModel
    public let approvals: ApprovalViewModel
    public let devices: DevicesViewModel
    /// "Approve a web console sign-in" (key holders; fed by the event loop).
    public let console: ConsoleViewModel
    /// The state, then every change.
    public var states: AsyncStream<EnrollmentState> { changes.stream(current: state) }
    let changes = Changes<EnrollmentState>()
    private let subscription = TaskBox()
    private let events = TaskBox()
    private let profileKey: String?
    private let serverURL: String?

    /// The stores open in this process, by profile directory.
    private static var openStores: [String: VouchStore] = [:]

    /// The store of the profile in `profileDir`: made (and its client opened) the first
    /// time, the same object afterwards. Another `serverURL` for an open profile is refused
    /// (`.InvalidState`): a profile belongs to one server.
    public static func open(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        secretStore: SecretStore,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) throws -> VouchStore {
        let key = URL(fileURLWithPath: profileDir).standardizedFileURL.path
        if let open = openStores[key] {
            guard open.serverURL == serverURL else {
                throw VouchError.InvalidState(reason: "profile already open with another server")
            }
            return open
        }
        let vouch = try Vouch(profileDir: profileDir, serverURL: serverURL, device: device, secretStore: secretStore, tls: tls, presence: presence)
        let store = VouchStore(vouch: vouch, profileKey: key, serverURL: serverURL)
        openStores[key] = store
        return store
    }

    /// `open`, with the client opened off the main thread (the SQLite store, its migration
    /// and the key store's unwrap of the database key run on a background task): what an
    /// app calls from its first view's `.task`. Concurrent calls for one profile share one
    /// opening; the same store as `open` afterwards.
    public static func load(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        secretStore: SecretStore,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) async throws -> VouchStore {
        let key = URL(fileURLWithPath: profileDir).standardizedFileURL.path
        let pending: Task<VouchStore, Error>
        if let open = openStores[key] {
            guard open.serverURL == serverURL else {
                throw VouchError.InvalidState(reason: "profile already open with another server")
            }
            return open
        } else if let opening = openings[key] {
            pending = opening
        } else {
            pending = Task { @MainActor in
                defer { openings[key] = nil }
                let vouch = try await Task.detached(priority: .userInitiated) {
                    try Vouch(profileDir: profileDir, serverURL: serverURL, device: device, secretStore: secretStore, tls: tls, presence: presence)
                }.value
                let store = VouchStore(vouch: vouch, profileKey: key, serverURL: serverURL)
                openStores[key] = store
                return store
            }
            openings[key] = pending
        }
        let store = try await pending.value
        guard store.serverURL == serverURL else {
            throw VouchError.InvalidState(reason: "profile already open with another server")
        }
        return store
    }

    /// Openings under way (`load`), by profile directory.
    private static var openings: [String: Task<VouchStore, Error>] = [:]

    /// Whether a store for `profileDir` is open in this process.
    public static func isOpen(profileDir: String) -> Bool {
        openStores[URL(fileURLWithPath: profileDir).standardizedFileURL.path] != nil
    }

    /// A store over a client the app opened itself (not registered: the app keeps it).
    public convenience init(vouch: Vouch) {
        self.init(vouch: vouch, profileKey: nil, serverURL: nil)
    }

    private init(vouch: Vouch, profileKey: String?, serverURL: String?) {
        self.vouch = vouch
        self.profileKey = profileKey
        self.serverURL = serverURL
        state = vouch.state
        setup = SetupViewModel(vouch: vouch)
        approvals = ApprovalViewModel(vouch: vouch)
        devices = DevicesViewModel(vouch: vouch)
        console = ConsoleViewModel(vouch: vouch)
        let stream = vouch.states
        subscription.task = Task { [weak self] in
            for await s in stream { self?.changed(to: s) }
        }
        runEventsWhileTrusted()
    }

    /// Signs in; the setup screen then starts from the new state.
    public func signIn(email: String, password: String) async {
        do {
            _ = try await vouch.signIn(email: email, password: password)
            signInError = nil
            state = vouch.state
            setup.resume()
        } catch {
            signInError = UserMessage(error)
        }
    }

    /// Starts the event loop again after it stopped with an error (e.g. from a banner's
    /// "Retry"); does nothing while it runs or when the device is not trusted.
    public func restartEvents() {
        runEventsWhileTrusted()
    }

    /// Whether the event loop is running.
    public var eventsRunning: Bool { events.task != nil }

    /// Closes the store: stops its loops and forgets it, so `open` makes a new client.
    public func close() {
        events.task?.cancel()
        events.task = nil
        subscription.task?.cancel()
        setup.stopWaiting()
        if let profileKey { Self.openStores[profileKey] = nil }
    }

    private func changed(to new: EnrollmentState) {
        let old = state
        state = new
        runEventsWhileTrusted()
        // Pushed from elsewhere (the event loop): disabled and wiped, or signed out.
        if case .wiped = new, old != new { setup.resume() }
    }

    private func runEventsWhileTrusted() {
        guard case .trusted = vouch.state, events.task == nil else { return }
        eventsError = nil
        events.task = Task { [weak self, vouch] in
            do {
                try await vouch.runEvents()
                self?.eventsEnded(nil)
            } catch {
                self?.eventsEnded(error)
            }
        }
    }

    private func eventsEnded(_ error: Error?) {
        events.task = nil
        if let error, !(error is CancellationError) { eventsError = UserMessage(error) }
    }
}

#if canImport(Combine)
extension VouchStore: ObservableObject {
    public nonisolated var objectWillChange: ObservableObjectPublisher { changes.publisher }
}
#endif
