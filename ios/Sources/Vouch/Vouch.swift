import Foundation
import VouchFFI

/// The Swift face of Vouch: the generated `VouchClient` plus `AsyncStream`s fed by its
/// listener. Mirrors the Kotlin facade (`app.vouch.Vouch`) one to one; errors are the
/// generated `VouchError` enum (`.wrongCode(attemptsLeft:)`, `.wrongNumber`, `.offline`, …).
public final class Vouch: @unchecked Sendable {
    /// The generated client, for calls the facade does not wrap.
    public let client: VouchClient
    private let listener: StreamListener

    /// The enrollment state; yields the current state first, then every transition.
    public var states: AsyncStream<EnrollmentState> { listener.states(current: client.state()) }
    /// "Trust this session?" requests waiting on this device.
    public var pendingRequests: AsyncStream<[PendingRequest]> { listener.pending() }

    /// Opens the profile in `profileDir`; no network. `tls` optionally pins the server's
    /// key (`sha256/…`) or adds a private CA; a refused certificate is
    /// `.certificatePinMismatch` / `.untrustedCertificate`, never `.offline`.
    public init(profileDir: String, serverURL: String, device: DeviceInfo, secretStore: SecretStore = KeychainSecretStore(), tls: TlsPolicy? = nil) throws {
        listener = StreamListener()
        client = try VouchClient(profileDir: profileDir, serverUrl: serverURL, device: device, secretStore: secretStore, listener: listener, tls: tls)
    }

    public var state: EnrollmentState { client.state() }
    public func signIn(email: String, password: String) async throws -> EnrollmentState { try await client.signIn(email: email, password: password) }
    public func remindMeLater() async throws -> EnrollmentState { try await client.remindMeLater() }
    public func defaultDeviceName() throws -> String { try client.defaultDeviceName() }
    public func registerDevice(name: String) async throws -> EnrollmentState { try await client.registerDevice(name: name) }
    public func requestEmailCode() async throws -> EnrollmentState { try await client.requestEmailCode() }
    public func submitEmailCode(_ code: String) async throws -> EnrollmentState { try await client.submitEmailCode(code: code) }
    public func startApproval() async throws -> ApprovalPrompt { try await client.startApproval() }
    /// Suspends until the request is decided; cancel the `Task` to stop waiting.
    public func waitForApproval() async throws -> EnrollmentState { try await client.waitForApproval() }
    public func refreshPendingRequests() async throws -> [PendingRequest] { try await client.pendingRequests() }
    public func approve(requestId: String, typedNumber: String) async throws { try await client.approve(requestId: requestId, typedNumber: typedNumber) }
    public func approveQR(_ text: String) async throws { try await client.approveQr(qrText: text) }
    public func deny(requestId: String) async throws { try await client.deny(requestId: requestId) }
    public func createVault(name: String) async throws -> VaultInfo { try await client.createVault(name: name) }
    public func vaults() throws -> [VaultInfo] { try client.vaults() }
    public func putItem(vaultId: String, value: Data, itemId: String? = nil) async throws -> ItemInfo {
        try await client.putItem(vaultId: vaultId, itemId: itemId, value: value)
    }
    public func getItem(vaultId: String, itemId: String) throws -> Data? { try client.getItem(vaultId: vaultId, itemId: itemId) }
    public func sync() async throws -> SyncReport { try await client.sync() }
    /// Runs the event loop until the device is no longer trusted.
    public func runEvents() async throws { try await client.runEvents() }
}

/// Feeds the streams; called on Rust threads.
final class StreamListener: VouchListener, @unchecked Sendable {
    private let lock = NSLock()
    private var stateContinuations: [UUID: AsyncStream<EnrollmentState>.Continuation] = [:]
    private var pendingContinuations: [UUID: AsyncStream<[PendingRequest]>.Continuation] = [:]

    func states(current: EnrollmentState) -> AsyncStream<EnrollmentState> {
        AsyncStream { continuation in
            let id = UUID()
            continuation.yield(current)
            lock.withLock { stateContinuations[id] = continuation }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.stateContinuations.removeValue(forKey: id) } }
        }
    }

    func pending() -> AsyncStream<[PendingRequest]> {
        AsyncStream { continuation in
            let id = UUID()
            lock.withLock { pendingContinuations[id] = continuation }
            continuation.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.pendingContinuations.removeValue(forKey: id) } }
        }
    }

    func onStateChanged(state: EnrollmentState) {
        lock.withLock { stateContinuations.values.forEach { $0.yield(state) } }
    }

    func onPendingRequestsChanged(pending: [PendingRequest]) {
        lock.withLock { pendingContinuations.values.forEach { $0.yield(pending) } }
    }

    func onVaultsChanged() {}
}
