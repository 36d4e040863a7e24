import Foundation
@_exported import VouchFFI
import VouchFFIFFI

/// The Swift face of Vouch: the generated `VouchClient` plus `AsyncStream`s fed by its
/// listener. Mirrors the Kotlin facade (`app.vouch.Vouch`) one to one; errors are the
/// generated `VouchError` enum (`.WrongCode(attemptsLeft:)` for an email code,
/// `.CodeMismatch` / `.NoAnswer` / `.CodeUsedUp` / `.UserPresenceRequired` for an approval,
/// `.KeyHolderRequired`, `.Offline`, …).
///
/// An approval (Trust v2) is a PAKE run between two devices at once: the new device shows
/// `ApprovalPrompt.code` and must be in `waitForApproval()` (it answers the run) while the
/// person types that code into `approve(requestId:code:)` on a device that holds the keys.
///
/// The module is `VouchKit` and the type `Vouch` (`import VouchKit`, `Vouch(…)`), so the
/// type never shadows the module; `VouchKit` re-exports the generated types (`VouchFFI`).
/// Compiles on Linux (CI runs its tests there); the Keychain store and LocalAuthentication
/// check are Apple-only (`Apple/`).
public final class Vouch: @unchecked Sendable {
    /// The generated client, for calls the facade does not wrap.
    public let client: VouchClient
    /// What this install is (its kind decides what it may manage: rule 8).
    public let device: DeviceInfo
    private let listener: StreamListener

    /// The enrollment state; yields the current state first, then every transition.
    public var states: AsyncStream<EnrollmentState> { listener.states(current: client.state()) }
    /// "Trust this session?" requests waiting on this device.
    public var pendingRequests: AsyncStream<[PendingRequest]> { listener.pending() }
    /// Yields whenever vaults or items changed (sync, new keys, remote edits).
    public var vaultChanges: AsyncStream<Void> { listener.vaults() }
    /// The user's web console sessions as last fetched (key holders): the last list first,
    /// then each one `refreshConsoleSessions()` or the event loop fetched (`runEvents()`
    /// fetches it when a browser signs in and waits: `console_requested`) — show
    /// "Approve a web console sign-in?".
    public var consoleSessions: AsyncStream<[ConsoleSession]> { listener.consoles() }

    /// Opens the profile in `profileDir`; no network. `tls` optionally pins the server's
    /// key (`sha256/…`) or adds a private CA; a refused certificate is
    /// `.CertificatePinMismatch` / `.UntrustedCertificate`, never `.Offline`. `presence` is
    /// the OS's user-presence check a phone runs before it approves
    /// (`LocalAuthenticationPresence`): a `.mobile` device without one, or whose check
    /// returns false, gets `.UserPresenceRequired` from `approve` and sends nothing.
    public init(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        secretStore: SecretStore,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) throws {
        listener = StreamListener()
        self.device = device
        client = try VouchClient(
            profileDir: profileDir, serverUrl: serverURL, device: device, secretStore: secretStore,
            listener: listener, tls: tls, presence: presence)
    }

    /// The words the "Trust this session?" screen shows above the code field.
    public static func approverWarning() -> String { VouchFFI.approverWarning() }
    /// The words above the code field of a `newRoot` request (another person's account).
    public static func newRootWarning() -> String { VouchFFI.newRootWarning() }

    public var state: EnrollmentState { client.state() }
    public func signIn(email: String, password: String) async throws -> EnrollmentState { try await client.signIn(email: email, password: password) }
    public func remindMeLater() async throws -> EnrollmentState { try await client.remindMeLater() }
    public func defaultDeviceName() throws -> String { try client.defaultDeviceName() }
    public func registerDevice(name: String) async throws -> EnrollmentState { try await client.registerDevice(name: name) }
    public func requestEmailCode() async throws -> EnrollmentState { try await client.requestEmailCode() }
    public func submitEmailCode(_ code: String) async throws -> EnrollmentState { try await client.submitEmailCode(code: code) }

    // ---- the new device: show the code, wait (answering the approver's run) ----

    /// Opens a request; show `code` and its QR code, then `waitForApproval()`.
    public func startApproval() async throws -> ApprovalPrompt { try await client.startApproval() }
    /// Starts verifying the way that can work: an approval when the user has a key holder,
    /// else (the user's first device, which nobody can approve) an emailed code.
    public func startVerification() async throws -> VerificationStarted { try await client.startVerification() }
    /// An email-only device asks a key holder for the vault keys (same prompt and wait).
    public func requestVaultKeys() async throws -> ApprovalPrompt { try await client.requestVaultKeys() }
    /// The open request's prompt, if any (also after a restart: show it and wait again).
    public func approvalPrompt() throws -> ApprovalPrompt? { try client.approvalPrompt() }
    /// Suspends until the request is decided, answering the approver's runs meanwhile;
    /// cancel the `Task` to stop waiting (it throws `CancellationError`, the request stays
    /// open and `waitForApproval()` can be called again). `.CodeUsedUp` when the code was
    /// tried three times or is ten minutes old: offer `newCode()`.
    ///
    /// uniffi 0.32's generated Swift async calls ignore `Task` cancellation (the Rust future
    /// runs to its end), so this one call drives the Rust future itself and cancels it
    /// (`RustFuture.cancellable`), as the Kotlin bindings do on coroutine cancellation.
    public func waitForApproval() async throws -> EnrollmentState {
        let handle = client.uniffiCloneHandle()
        return try await RustFuture.cancellable(
            start: { uniffi_vouch_ffi_fn_method_vouchclient_wait_for_approval(handle) },
            lift: FfiConverterTypeEnrollmentState_lift)
    }
    /// The person asks for a new code: the request is replaced (fresh code, three tries).
    public func newCode() async throws -> ApprovalPrompt { try await client.newCode() }
    /// Withdraws the open request (setup can start again).
    public func cancelApproval() async throws { try await client.cancelApproval() }

    // ---- the approver: "Trust this session?" ----

    public func refreshPendingRequests() async throws -> [PendingRequest] { try await client.pendingRequests() }
    /// Approves `requestId` with the code the person typed on its "Trust this session?"
    /// screen (spaces and dashes are fine). Returns once the new device answered the run
    /// and the keys went out sealed to it (up to 30 s: show "waiting for the new device…").
    /// Runs off the main actor (a nonisolated async call): the presence check blocks.
    public func approve(requestId: String, code: String) async throws {
        try await client.approve(requestId: requestId, typedCode: code)
    }
    /// Approves `requestId` with the QR text this app's own camera scanned on its screen.
    public func approveScanned(requestId: String, scanned: String) async throws {
        try await client.approveScanned(requestId: requestId, scanned: scanned)
    }
    public func deny(requestId: String) async throws { try await client.deny(requestId: requestId) }

    // ---- the web console: a browser signed in with the password waits for a key holder ----

    /// The user's console sessions, pending and active, in one call (also fed to `consoleSessions`).
    public func refreshConsoleSessions() async throws -> [ConsoleSession] { try await client.consoleSessions() }
    /// Approves the console sign-in `sessionId` with the 6-digit code its browser shows (key
    /// holders: `.KeyHolderRequired` otherwise). A wrong code is `.WrongCode(attemptsLeft:)`;
    /// the third ends the sign-in (`.CodeExpired`). On a phone the user-presence check runs
    /// first (`.UserPresenceRequired`, nothing sent). The browser gets no key.
    public func approveConsole(sessionId: String, code: String) async throws -> ConsoleSession {
        try await client.approveConsole(sessionId: sessionId, code: code)
    }
    /// Ends a console session, pending or active (key holders).
    public func revokeConsole(sessionId: String) async throws { try await client.revokeConsole(sessionId: sessionId) }
    public func devices() async throws -> [Device] { try await client.devices() }
    /// Disables `deviceId` and, with `alsoApproved`, the devices it approved in the last 30
    /// days (rule 6). A key-holder web device of the user or an admin's key holder only
    /// (rule 8); returns every device disabled. Disabling this device wipes it.
    public func disableDevices(_ deviceId: String, alsoApproved: Bool) async throws -> [String] {
        try await client.disableDevices(deviceId: deviceId, alsoApproved: alsoApproved)
    }
    /// Renames `deviceId` (the naming rules of registration: `.InvalidInput`,
    /// `.DeviceNameTaken`). Any trusted device may rename itself (its state follows); a
    /// key-holder web device renames the user's other devices.
    public func renameDevice(_ deviceId: String, name: String) async throws -> Device {
        try await client.renameDevice(deviceId: deviceId, name: name)
    }
    /// Signs this device out: a trusted device disables itself on the server (its name and
    /// slot are freed, the other devices are told), then wipes its keys, items and tokens
    /// (state `.wiped`). `false` when it was never trusted (nothing to end on the server).
    /// `.Offline` changes nothing.
    public func signOut() async throws -> Bool { try await client.signOut() }
    /// The key holders on the vouch chain, verified on this device (`.ChainRefused` otherwise).
    public func chainMembers() async throws -> [ChainMember] { try await client.chainMembers() }
    /// Makes a recovery key and returns its 24 words: show them once, never store or log them.
    public func createRecoveryKey() async throws -> String { try await client.createRecoveryKey() }
    /// Uses the recovery key's words on this device after every device was lost: the lost
    /// key holders are revoked (`revoked`) and the user's email-only devices disabled
    /// (`disabled`); name both to the person first. Wrong words: `.InvalidRecoveryWords`
    /// says what to fix (`UserMessage` has a key per kind).
    public func useRecoveryKey(_ words: String) async throws -> Recovered { try await client.useRecoveryKey(words: words) }
    /// Revokes the recovery key; false when there was none.
    public func revokeRecoveryKey() async throws -> Bool { try await client.revokeRecoveryKey() }
    public func createVault(name: String) async throws -> VaultInfo { try await client.createVault(name: name) }
    public func vaults() throws -> [VaultInfo] { try client.vaults() }
    /// A vault of this device by id or by name (trimmed, case-insensitive); `.InvalidInput`
    /// when there is none or the name is ambiguous. Local.
    public func findVault(_ nameOrId: String) throws -> VaultInfo { try client.findVault(nameOrId: nameOrId) }
    /// Whether a vault of this device already has `name` (trimmed, case-insensitive):
    /// vault names are unique per user. Local.
    public func vaultNameTaken(_ name: String) throws -> Bool { try client.vaultNameTaken(name: name) }
    /// Writes an item; `title` is sealed with the value (nil keeps an existing item's title).
    public func putItem(vaultId: String, value: Data, itemId: String? = nil, title: String? = nil) async throws -> ItemInfo {
        try await client.putItem(vaultId: vaultId, itemId: itemId, value: value, title: title)
    }
    /// A live item by title (without case) or id.
    public func findItem(vaultId: String, titleOrId: String) throws -> ItemInfo {
        try client.findItem(vaultId: vaultId, titleOrId: titleOrId)
    }
    /// Deletes a vault on every device of the user (its deletion is sealed under the vault key).
    public func deleteVault(vaultId: String) async throws { try await client.deleteVault(vaultId: vaultId) }
    public func getItem(vaultId: String, itemId: String) throws -> Data? { try client.getItem(vaultId: vaultId, itemId: itemId) }
    public func listItems(vaultId: String) throws -> [ItemInfo] { try client.listItems(vaultId: vaultId) }
    public func deleteItem(vaultId: String, itemId: String) async throws -> ItemInfo {
        try await client.deleteItem(vaultId: vaultId, itemId: itemId)
    }
    public func queuedOperations() throws -> UInt64 { try client.queuedOperations() }

    // ---- admin (a key holder of a workspace admin) ----

    /// Admin: every device of the workspace, or `userId`'s.
    public func adminDevices(userId: String? = nil) async throws -> [Device] { try await client.adminDevices(userId: userId) }
    /// Admin: deprovisions a user (disables every device, ends the sign-ins); the disabled ids.
    public func adminDeprovision(userId: String) async throws -> [String] { try await client.adminDeprovision(userId: userId) }
    /// Admin: lifts a user's email-code lock and sign-in throttle.
    public func adminUnlock(userId: String) async throws { try await client.adminUnlock(userId: userId) }
    /// Admin: the workspace's users with their device counts, in one call.
    public func adminUsers() async throws -> [AdminUser] { try await client.adminUsers() }
    /// Admin: a user by email (compared without case) or id; `.InvalidInput` when there is none.
    public func adminUser(_ emailOrId: String) async throws -> AdminUser { try await client.adminUser(emailOrId: emailOrId) }
    /// Admin: reactivates a deprovisioned user (new devices only; the old ones stay disabled).
    public func adminReactivate(userId: String) async throws -> AdminUser { try await client.adminReactivate(userId: userId) }
    /// Admin: the newest `limit` (default 100) audit entries of the workspace or of
    /// `userId`, oldest first.
    public func adminAudit(userId: String? = nil, limit: UInt32? = nil) async throws -> [AuditEvent] {
        try await client.adminAudit(userId: userId, limit: limit)
    }
    public func sync() async throws -> SyncReport { try await client.sync() }
    /// Runs the event loop until the device is no longer trusted; cancel the `Task` to stop
    /// it (`CancellationError`; driven like `waitForApproval()`, see `RustFuture`).
    public func runEvents() async throws {
        let handle = client.uniffiCloneHandle()
        try await RustFuture.cancellableVoid { uniffi_vouch_ffi_fn_method_vouchclient_run_events(handle) }
    }
}

/// Feeds the streams; called on Rust threads.
final class StreamListener: VouchListener, @unchecked Sendable {
    private let lock = NSLock()
    private var stateContinuations: [UUID: AsyncStream<EnrollmentState>.Continuation] = [:]
    private var pendingContinuations: [UUID: AsyncStream<[PendingRequest]>.Continuation] = [:]
    private var vaultContinuations: [UUID: AsyncStream<Void>.Continuation] = [:]
    private var consoleContinuations: [UUID: AsyncStream<[ConsoleSession]>.Continuation] = [:]
    private var lastPending: [PendingRequest]?
    private var lastConsoles: [ConsoleSession]?

    func states(current: EnrollmentState) -> AsyncStream<EnrollmentState> {
        AsyncStream { continuation in
            let id = UUID()
            continuation.yield(current)
            lock.withLock { stateContinuations[id] = continuation }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.stateContinuations.removeValue(forKey: id) } }
        }
    }

    /// Yields the last list seen (if any) first, then every change.
    func pending() -> AsyncStream<[PendingRequest]> {
        AsyncStream { continuation in
            let id = UUID()
            lock.withLock {
                if let lastPending { continuation.yield(lastPending) }
                pendingContinuations[id] = continuation
            }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.pendingContinuations.removeValue(forKey: id) } }
        }
    }

    func onStateChanged(state: EnrollmentState) {
        lock.withLock { stateContinuations.values.forEach { $0.yield(state) } }
    }

    func vaults() -> AsyncStream<Void> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = UUID()
            lock.withLock { vaultContinuations[id] = continuation }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.vaultContinuations.removeValue(forKey: id) } }
        }
    }

    func onPendingRequestsChanged(pending: [PendingRequest]) {
        lock.withLock {
            lastPending = pending
            pendingContinuations.values.forEach { $0.yield(pending) }
        }
    }

    func onVaultsChanged() {
        lock.withLock { vaultContinuations.values.forEach { $0.yield(()) } }
    }

    /// Yields the last console list seen (if any) first, then every change.
    func consoles() -> AsyncStream<[ConsoleSession]> {
        AsyncStream { continuation in
            let id = UUID()
            lock.withLock {
                if let lastConsoles { continuation.yield(lastConsoles) }
                consoleContinuations[id] = continuation
            }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.consoleContinuations.removeValue(forKey: id) } }
        }
    }

    func onConsoleSessionsChanged(sessions: [ConsoleSession]) {
        lock.withLock {
            lastConsoles = sessions
            consoleContinuations.values.forEach { $0.yield(sessions) }
        }
    }
}
