import Foundation
import VouchKit
import XCTest

/// The facade's streams, the foreign traits written in Swift, vaults, typed errors.
final class ClientTests: XCTestCase {
    func testTheSecretStoreContract() throws {
        let store = MemorySecretStore()
        let secret = Data([0, 1, 2, 0xfe, 0xff] + Array(repeating: 7, count: 59))
        let wrapped = try store.wrapSecret(label: "db", secret: secret)
        XCTAssertNotEqual(wrapped, secret)
        XCTAssertEqual(try store.unwrapSecret(label: "db", wrapped: wrapped), secret)
        // Another label's key does not open it.
        _ = try store.wrapSecret(label: "other", secret: Data([1]))
        XCTAssertThrowsError(try store.unwrapSecret(label: "other", wrapped: wrapped)) {
            guard case SecretStoreError.AuthenticationFailed = $0 else { return XCTFail("\($0)") }
        }
        // A deleted (lost) key is the typed error.
        try store.deleteSecret(label: "db")
        XCTAssertThrowsError(try store.unwrapSecret(label: "db", wrapped: wrapped)) {
            guard case SecretStoreError.KeyNotFound = $0 else { return XCTFail("\($0)") }
        }
        try store.deleteSecret(label: "never-there") // deleting nothing is fine
    }

    func testASecretStoreWrittenInSwiftGuardsTheProfile() async throws {
        let server = try TestServer()
        let store = MemorySecretStore()
        let profile = tempProfile()
        do {
            let v = try openVouch(server, store: store, profile: profile)
            try await enrollByEmail(v, server)
        }
        XCTAssertEqual(store.wraps, 1, "the database key was wrapped once")
        XCTAssertTrue(try openVouch(server, store: store, profile: profile).state.isTrusted, "reopened with the same key store")
        XCTAssertGreaterThanOrEqual(store.unwraps, 1)
        // Another key store (the key was lost, e.g. a restored backup) cannot open it.
        XCTAssertThrowsError(try openVouch(server, store: MemorySecretStore(), profile: profile)) {
            guard case VouchError.KeyStore = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(UserMessage($0).key, "error.key_store")
        }
    }

    func testTheStatesStreamSeesEveryTransition() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        let seen = Collector<String>()
        let stream = v.states
        let reader = Task { for await s in stream { seen.append(s.kind) } }
        try await enrollByEmail(v, server)
        try await eventually("Trusted on the stream") { seen.last == "trusted" }
        reader.cancel()
        XCTAssertEqual(seen.values.first, "signedOut", "the current state comes first")
        XCTAssertTrue(seen.values.contains("untrusted"))
        XCTAssertTrue(seen.values.contains("verifying"))
    }

    func testThePendingRequestsStream() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let stream = phone.pendingRequests
        let prompt = try await openRequest(laptop, name: "Laptop")
        // The event loop pushes the new request to the stream (server-sent events).
        let events = Task { try await phone.runEvents() }
        let list = try await first(stream) { $0.contains { $0.requestId == prompt.requestId } }
        XCTAssertEqual(list.first?.deviceName, "Laptop")
        try await phone.deny(requestId: prompt.requestId)
        _ = try await first(phone.pendingRequests) { !$0.contains { $0.requestId == prompt.requestId && $0.status == .pending } }
        events.cancel()
    }

    func testCancellingTheTaskStopsWaitForApprovalAndTheClientStaysUsable() async throws {
        let server = try TestServer()
        // A key holder first: nobody can approve a user's first device (it is told to
        // verify by email code).
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let laptop = try openVouch(server, kind: .web)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let waiter = Waiter(laptop)
        // The wait is under way once it answers a run: a mistyped code comes back as
        // `.CodeMismatch` only from a waiting device (no sleep, no clock).
        _ = try await phone.refreshPendingRequests()
        await assertThrowsAsync({ try await phone.approve(requestId: prompt.requestId, code: mistype(prompt.code)) }) {
            if case VouchError.CodeMismatch = $0 { return true }; return false
        }
        XCTAssertFalse(waiter.isCompleted, "still waiting for an approver")
        waiter.task.cancel()
        do {
            _ = try await waiter.value(timeout: 5)
            XCTFail("the wait ended without cancellation")
        } catch is CancellationError {}
        XCTAssertEqual(try laptop.approvalPrompt()?.requestId, prompt.requestId, "the request stays open")
        // Waiting again works, and is cancellable again.
        let again = Waiter(laptop)
        again.task.cancel()
        do { _ = try await again.value(timeout: 5); XCTFail("not cancelled") } catch is CancellationError {}
        // "I don't have access to my trusted device" switches to an email code.
        guard case .verifying(_, _, _, .emailCode) = try await laptop.requestEmailCode() else { return XCTFail("no email code") }
    }

    func testVaultItemsRoundTripWithBinaryValuesAndSurviveReopening() async throws {
        let server = try TestServer()
        let store = MemorySecretStore()
        let profile = tempProfile()
        let values: [Data] = [Data(), Data([0]), Data((0...255).map { UInt8($0) }), Data(repeating: 0xa5, count: 16 * 1024)]
        var ids: [String] = []
        let vaultId: String
        do {
            let v = try openVouch(server, store: store, profile: profile)
            try await enrollByEmail(v, server)
            let vault = try await v.createVault(name: "Work")
            vaultId = vault.id
            for value in values {
                let item = try await v.putItem(vaultId: vault.id, value: value)
                XCTAssertTrue(item.synced)
                ids.append(item.itemId)
            }
            let report = try await v.sync()
            XCTAssertEqual(report.queued, 0)
            // Replacing a value makes a new version of the same item.
            let updated = try await v.putItem(vaultId: vault.id, value: Data("v2".utf8), itemId: ids[1])
            XCTAssertEqual(updated.itemId, ids[1])
            XCTAssertGreaterThan(updated.version, 1)
        }
        let v = try openVouch(server, store: store, profile: profile)
        XCTAssertEqual(try v.vaults().map(\.name), ["Work"])
        XCTAssertEqual(try v.getItem(vaultId: vaultId, itemId: ids[0]), values[0])
        XCTAssertEqual(try v.getItem(vaultId: vaultId, itemId: ids[1]), Data("v2".utf8))
        XCTAssertEqual(try v.getItem(vaultId: vaultId, itemId: ids[2]), values[2])
        XCTAssertEqual(try v.getItem(vaultId: vaultId, itemId: ids[3]), values[3])
        // A second device of the same user reads the same bytes after approval and sync.
        let laptop = try openVouch(server, kind: .web)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let waiter = Waiter(laptop)
        _ = try await v.refreshPendingRequests()
        try await v.approve(requestId: prompt.requestId, code: prompt.code)
        let awaited1 = try await waiter.value().isTrusted
        XCTAssertTrue(awaited1)
        _ = try await laptop.sync()
        XCTAssertEqual(try laptop.getItem(vaultId: vaultId, itemId: ids[2]), values[2])
        XCTAssertEqual(try laptop.getItem(vaultId: vaultId, itemId: ids[3]), values[3])
    }

    func testDisableFromAWebDeviceWipesThePhone() async throws {
        let server = try TestServer()
        let web = try openVouch(server, kind: .web)
        let phone = try openVouch(server)
        try await enrollByEmail(web, server)
        try await enrollByEmail(phone, server)
        let phoneId = try XCTUnwrap(phone.state.deviceId)
        let states = phone.states
        let events = Task { try await phone.runEvents() }
        try await web.client.disableDevice(deviceId: phoneId)
        _ = try await first(states, timeout: 15) { $0 == .wiped }
        _ = try? await events.value
        XCTAssertThrowsError(try phone.vaults()) {
            guard case VouchError.DeviceWiped = $0 else { return XCTFail("\($0)") }
        }
    }

    func testTheVouchChainAndTheRecoveryKey() async throws {
        let server = try TestServer()
        let laptop = try openVouch(server, kind: .web)
        let fresh = try openVouch(server)
        try await enrollByEmail(laptop, server)
        let vault = try await laptop.createVault(name: "Personal")
        let item = try await laptop.putItem(vaultId: vault.id, value: Data("hunter2".utf8))
        let members = try await laptop.chainMembers()
        XCTAssertEqual(members.count, 1)
        XCTAssertEqual(members.first?.role, .device)
        let words = try await laptop.createRecoveryKey()
        XCTAssertEqual(words.split(separator: " ").count, 24)
        // A thief with the password and the mailbox adds a device by email code.
        let thief = try openVouch(server, kind: .web)
        _ = try await thief.signIn(email: alice, password: password)
        _ = try await thief.registerDevice(name: "Thief")
        _ = try await thief.requestEmailCode()
        _ = try await thief.submitEmailCode(try await server.latestCode(alice))
        let thiefId = try XCTUnwrap(thief.state.deviceId)
        // Every device lost: a new one by email code (email-only), then the words.
        try await enrollByEmail(fresh, server)
        do {
            _ = try await fresh.useRecoveryKey("not my words")
            XCTFail("wrong words were accepted")
        } catch let e as VouchError {
            // "not" is not a word of the list: the first word is named.
            XCTAssertEqual(UserMessage(e).key, "error.recovery_word_unknown")
            XCTAssertEqual(UserMessage(e).text, "Word 1 is not a word of the recovery key. Check its spelling.")
        }
        do {
            _ = try await fresh.useRecoveryKey(words.split(separator: " ").dropFirst().joined(separator: " "))
            XCTFail("23 words were accepted")
        } catch let e as VouchError {
            XCTAssertEqual(UserMessage(e).text, "A recovery key has 24 words; you entered 23.")
        }
        let done = try await fresh.useRecoveryKey(words)
        guard case let .trusted(_, _, _, _, tier) = done.state else { return XCTFail("not trusted") }
        XCTAssertEqual(tier, .keyHolder)
        XCTAssertEqual(done.revoked.count, 1, "the lost laptop is revoked")
        XCTAssertEqual(done.disabled, [thiefId], "the thief's email-only device is disabled")
        XCTAssertEqual(try fresh.getItem(vaultId: vault.id, itemId: item.itemId), Data("hunter2".utf8))
        let revoked = try await fresh.revokeRecoveryKey()
        XCTAssertTrue(revoked)
    }

    func testRenameLastSeenFindVaultAndSignOut() async throws {
        let server = try TestServer()
        let web = try openVouch(server, kind: .web)
        let phone = try openVouch(server)
        try await enrollByEmail(web, server) // the user's first: a key holder
        try await enrollByEmail(phone, server) // email-only
        let phoneId = try XCTUnwrap(phone.state.deviceId)
        // A device (any tier) renames itself: the server's record and its own state follow.
        let renamed = try await phone.renameDevice(phoneId, name: "  Alice's   phone ")
        XCTAssertEqual(renamed.name, "Alice's phone", "the server's canonical name")
        guard case let .trusted(_, _, name, _, _) = phone.state else { return XCTFail("not trusted") }
        XCTAssertEqual(name, "Alice's phone")
        guard case let .trusted(_, _, webName, _, _) = web.state else { return XCTFail("not trusted") }
        await assertThrowsAsync({ try await phone.renameDevice(phoneId, name: webName) }) {
            if case VouchError.DeviceNameTaken = $0 { return true }; return false
        }
        await assertThrowsAsync({ try await phone.renameDevice(phoneId, name: "   ") }) {
            if case VouchError.InvalidInput = $0 { return true }; return false
        }
        // A key-holder web device renames another device of the user.
        _ = try await web.renameDevice(phoneId, name: "Phone 2")
        // Last seen: set by the phone's calls with its device token.
        let listedDevices = try await web.devices()
        let listed = try XCTUnwrap(listedDevices.first { $0.id == phoneId })
        XCTAssertEqual(listed.name, "Phone 2")
        let seen = try XCTUnwrap(listed.lastSeenAt, "the phone called the server")
        XCTAssertGreaterThanOrEqual(seen, listed.createdAt)

        // Vaults by name (on the key holder): trimmed and without case; an unknown name is
        // a typed error.
        let personal = try await web.createVault(name: "Personal")
        XCTAssertTrue(try web.vaultNameTaken("  PERSONAL "))
        XCTAssertFalse(try web.vaultNameTaken("Work"))
        XCTAssertEqual(try web.findVault("personal"), personal)
        XCTAssertEqual(try web.findVault(personal.id), personal)
        XCTAssertThrowsError(try web.findVault("Work")) {
            guard case VouchError.InvalidInput = $0 else { return XCTFail("\($0)") }
        }

        // Sign out (any tier may): the server disables the phone, the phone wipes itself.
        let signedOut = try await phone.signOut()
        XCTAssertTrue(signedOut)
        XCTAssertEqual(phone.state, .wiped)
        let after = try await web.devices().first { $0.id == phoneId }
        XCTAssertEqual(after?.status, .disabled)
        // A device that was never trusted has nothing to end on the server.
        let fresh = try openVouch(server)
        _ = try await fresh.signIn(email: alice, password: password)
        let freshSignedOut = try await fresh.signOut()
        XCTAssertFalse(freshSignedOut)
    }

    func testAdminUsersReactivateAndAudit() async throws {
        let server = try TestServer()
        let admin = try openVouch(server, kind: .web)
        let member = try openVouch(server)
        try await enrollByEmail(admin, server, "admin@acme.test")
        try await enrollByEmail(member, server)
        guard case let .trusted(user, _, _, _, _) = member.state else { return XCTFail("not trusted") }
        let users = try await admin.adminUsers()
        XCTAssertEqual(users.first { $0.email == "admin@acme.test" }?.role, .admin)
        let a = try XCTUnwrap(users.first { $0.email == alice })
        XCTAssertEqual(a.role, .member)
        XCTAssertEqual(a.trustedDevices, 1)
        XCTAssertNil(a.deprovisionedAt)
        let byEmail = try await admin.adminUser("ALICE@acme.test")
        XCTAssertEqual(byEmail, a, "by email, without case")
        let byId = try await admin.adminUser(user.id)
        XCTAssertEqual(byId, a, "by id")
        await assertThrowsAsync({ try await admin.adminUser("nobody@acme.test") }) {
            if case VouchError.InvalidInput = $0 { return true }; return false
        }
        await assertThrowsAsync({ try await member.adminUsers() }) {
            if case let VouchError.Server(code, _) = $0 { return code == "forbidden" }; return false
        }
        _ = try await admin.adminDeprovision(userId: user.id)
        let gone = try await admin.adminUser(user.id)
        XCTAssertNotNil(gone.deprovisionedAt)
        let back = try await admin.adminReactivate(userId: user.id)
        XCTAssertNil(back.deprovisionedAt)
        XCTAssertEqual(back.trustedDevices, 0, "the old devices stay disabled")
        let log = try await admin.adminAudit(userId: user.id)
        XCTAssertTrue(log.allSatisfy { $0.userId == user.id && $0.userEmail == alice })
        for action in [AuditAction.registered, .verifiedByEmail, .deprovisioned, .reactivated] {
            XCTAssertTrue(log.contains { $0.action == action }, "\(action)")
        }
        XCTAssertEqual(log.map(\.seq), log.map(\.seq).sorted(), "oldest first")
        let newest = try await admin.adminAudit(userId: user.id, limit: 1)
        XCTAssertEqual(newest, [log.last!])
    }

    func testOfflineIsTyped() async throws {
        let v = try Vouch(profileDir: tempProfile(), serverURL: "http://127.0.0.1:9", device: device(), secretStore: MemorySecretStore())
        await assertThrowsAsync({ try await v.signIn(email: alice, password: password) }) {
            if case VouchError.Offline = $0 { return UserMessage($0).text == "You are offline." }
            return false
        }
    }

    func testAMalformedCertificatePinIsInvalidInputAtOpen() throws {
        let bad = TlsPolicy(pinnedSpkiSha256: ["md5/abc"], extraRootsDer: [])
        XCTAssertThrowsError(try Vouch(profileDir: tempProfile(), serverURL: "https://vouch.example", device: device(), secretStore: MemorySecretStore(), tls: bad)) {
            guard case VouchError.InvalidInput = $0 else { return XCTFail("\($0)") }
        }
        let pin = TlsPolicy(pinnedSpkiSha256: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], extraRootsDer: [])
        XCTAssertNoThrow(try Vouch(profileDir: tempProfile(), serverURL: "https://vouch.example", device: device(), secretStore: MemorySecretStore(), tls: pin))
    }

    func testPlainHttpToAnotherHostAndBadIdsAreInvalidInput() async throws {
        XCTAssertThrowsError(try Vouch(profileDir: tempProfile(), serverURL: "http://example.com", device: device(), secretStore: MemorySecretStore())) {
            guard case VouchError.InsecureTransport = $0 else { return XCTFail("\($0)") }
        }
        let server = try TestServer()
        let v = try openVouch(server)
        try await enrollByEmail(v, server)
        XCTAssertThrowsError(try v.getItem(vaultId: "not-an-id", itemId: "x")) {
            guard case VouchError.InvalidInput = $0 else { return XCTFail("\($0)") }
        }
        await assertThrowsAsync({ try await v.startApproval() }) {
            if case VouchError.InvalidState = $0 { return true }
            return false
        }
    }

    func testAPanicInRustArrivesAsATypedError() {
        XCTAssertThrowsError(try panicProbe()) {
            guard case VouchError.Internal(let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("internal error"))
        }
        XCTAssertEqual(coreVersion(), coreVersion(), "the library still works after the panic")
    }

    func testAsyncCallsMapToAsyncFunctions() async {
        let answer = await pingAsync(value: 42)
        XCTAssertEqual(answer, 42)
        XCTAssertNotEqual(coreVersion(), "")
    }

    func testLogRecordsReachASwiftLoggerWithoutSecrets() async throws {
        let lines = Collector<String>()
        setLogger(logger: LineLogger(lines), maxLevel: .info)
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        XCTAssertTrue(lines.values.contains { $0.contains("enrollment state: untrusted") }, "\(lines.values)")
        XCTAssertFalse(lines.values.contains { $0.contains(password) })
    }

    func testEveryErrorHasAUserFacingKeyWithText() {
        let errors: [VouchError] = [
            .Offline, .ServerFailed(status: 502), .WrongCode(attemptsLeft: 2), .CodeExpired, .CodeLocked, .TooManyRequests(retryAfterSecs: 30),
            .DeviceLimitReached(detail: "d"), .DeviceNameTaken, .InvalidCredentials, .CodeMismatch, .NoAnswer, .CodeUsedUp,
            .UserPresenceRequired, .ApprovalFailed, .InvalidQrCode, .KeyHolderRequired, .KeyConflict, .AlreadyDecided,
            .ChainRefused(reason: "out of order"), .InvalidRecoveryWords(problem: .unknownWord(position: 7)),
            .InvalidRecoveryWords(problem: .wrongCount(count: 23)), .InvalidRecoveryWords(problem: .checksum), .RecoveryKeyNotOnChain,
            .RequestExpired, .DeviceWiped, .DeviceDisabled, .InvalidState(reason: "r"), .UntrustedCertificate, .CertificatePinMismatch,
            .InsecureTransport, .InvalidInput(reason: "r"), .WrongCode(attemptsLeft: nil), .TooManyRequests(retryAfterSecs: nil), .Server(code: "c", detail: "d"), .KeyStore(reason: "r"), .Storage(reason: "r"),
            .Internal(reason: "r"),
        ]
        var keys = Set<String>()
        for e in errors {
            let m = UserMessage(e)
            XCTAssertTrue(m.key.hasPrefix("error."), m.key)
            XCTAssertFalse(m.text.isEmpty)
            XCTAssertNotEqual(m.text, m.key, "\(m.key) has no text")
            XCTAssertFalse(m.text.contains("detail="), "no field dumps on screen")
            keys.insert(m.key)
        }
        XCTAssertEqual(keys.count, errors.count, "one key per case")
        XCTAssertEqual(UserMessage(VouchError.WrongCode(attemptsLeft: 2)).text, "Wrong code. 2 attempt(s) left.")
        XCTAssertEqual(UserMessage(VouchError.TooManyRequests(retryAfterSecs: 30)).text, "Too many tries. Try again in 30 s.")
        XCTAssertEqual(UserMessage(CancellationError()).key, "error.cancelled")
    }
}

final class LineLogger: VouchLogger, @unchecked Sendable {
    let lines: Collector<String>
    init(_ lines: Collector<String>) { self.lines = lines }
    func log(level: LogLevel, target: String, message: String) { lines.append("\(level) \(target) \(message)") }
}

/// A thread-safe list, filled from other threads.
final class Collector<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) { lock.withLock { items.append(item) } }
    var values: [T] { lock.withLock { items } }
    var last: T? { values.last }
}
