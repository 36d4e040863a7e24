// Apple only: compiled where Security && CryptoKit exist (not on Linux).
#if canImport(Security) && canImport(CryptoKit)
import CryptoKit
import Foundation
import Security
import VouchFFI

/// `SecretStore` over the iOS Keychain: one 256-bit key per label, stored
/// `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly` (never synced, never in backups);
/// secrets are sealed with AES-GCM (CryptoKit), AAD = label.
public final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    private let service: String

    public init(service: String = "app.vouch.secret-store") {
        self.service = service
    }

    private func query(_ label: String) -> [String: Any] {
        [kSecClass as String: kSecClassGenericPassword, kSecAttrService as String: service, kSecAttrAccount as String: label]
    }

    private func loadKey(_ label: String) throws -> SymmetricKey? {
        var q = query(label)
        q[kSecReturnData as String] = true
        var out: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &out)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = out as? Data else { throw SecretStoreError.Unavailable(reason: "keychain status \(status)") }
        return SymmetricKey(data: data)
    }

    private func createKey(_ label: String) throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        var q = query(label)
        q[kSecValueData as String] = key.withUnsafeBytes { Data($0) }
        q[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(q as CFDictionary, nil)
        guard status == errSecSuccess else { throw SecretStoreError.Unavailable(reason: "keychain status \(status)") }
        return key
    }

    public func wrapSecret(label: String, secret: Data) throws -> Data {
        let key = try loadKey(label) ?? createKey(label)
        do {
            guard let combined = try AES.GCM.seal(secret, using: key, authenticating: Data(label.utf8)).combined else {
                throw SecretStoreError.Unavailable(reason: "seal")
            }
            return combined
        } catch let e as SecretStoreError { throw e } catch { throw SecretStoreError.Unavailable(reason: "seal") }
    }

    public func unwrapSecret(label: String, wrapped: Data) throws -> Data {
        guard let key = try loadKey(label) else { throw SecretStoreError.KeyNotFound }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: wrapped), using: key, authenticating: Data(label.utf8))
        } catch {
            throw SecretStoreError.AuthenticationFailed
        }
    }

    public func deleteSecret(label: String) throws {
        let status = SecItemDelete(query(label) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw SecretStoreError.Unavailable(reason: "keychain status \(status)")
        }
    }
}
#endif

#if canImport(Security) && canImport(CryptoKit)
extension Vouch {
    /// Opens the profile with the Keychain as its `SecretStore` (the default on Apple).
    public convenience init(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) throws {
        try self.init(profileDir: profileDir, serverURL: serverURL, device: device, secretStore: KeychainSecretStore(), tls: tls, presence: presence)
    }
}

extension VouchStore {
    /// The store of the profile in `profileDir`, with the Keychain as its `SecretStore`
    /// (the default on Apple); the same store while it is open (see `VouchStore.open`).
    @MainActor
    public static func open(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) throws -> VouchStore {
        try open(profileDir: profileDir, serverURL: serverURL, device: device, secretStore: KeychainSecretStore(), tls: tls, presence: presence)
    }

    /// `load` (the client opened off the main thread) with the Keychain as its `SecretStore`.
    @MainActor
    public static func load(
        profileDir: String,
        serverURL: String,
        device: DeviceInfo,
        tls: TlsPolicy? = nil,
        presence: UserPresence? = nil
    ) async throws -> VouchStore {
        try await load(profileDir: profileDir, serverURL: serverURL, device: device, secretStore: KeychainSecretStore(), tls: tls, presence: presence)
    }
}
#endif
