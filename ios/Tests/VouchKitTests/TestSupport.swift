import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VouchKit
import XCTest

let alice = "alice@acme.test"
let password = "dev-password"

/// A real `vouch-server --dev` process on a free loopback port (binary from
/// VOUCH_SERVER_BIN, set by scripts/swift-tests.sh), spoken to over real HTTP.
final class TestServer: @unchecked Sendable {
    let url: String
    private let process = Process()
    private let dir: URL

    init(_ extra: [String] = []) throws {
        guard let bin = ProcessInfo.processInfo.environment["VOUCH_SERVER_BIN"] else {
            throw TestError("VOUCH_SERVER_BIN is not set (run scripts/swift-tests.sh)")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vouch-swift-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = ["--dev", "--listen", "127.0.0.1:0", "--data", dir.path] + extra
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is "listening on http://127.0.0.1:PORT".
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw TestError("server did not start") }
            line.append(chunk)
        }
        let first = String(decoding: line, as: UTF8.self).split(separator: "\n")[0]
        url = first.replacingOccurrences(of: "listening on ", with: "").trimmingCharacters(in: .whitespaces)
    }

    /// The newest 6-digit code mailed to `email`, read from the dev outbox.
    func latestCode(_ email: String) async throws -> String {
        let body = try await http("GET", "/v1/dev/outbox?to=\(email)")
        let regex = try NSRegularExpression(pattern: "\\b(\\d{6})\\b")
        let matches = regex.matches(in: body, range: NSRange(body.startIndex..., in: body))
        guard let last = matches.last, let r = Range(last.range(at: 1), in: body) else { throw TestError("no code mailed to \(email)") }
        return String(body[r])
    }

    /// Moves the server's clock forward (the dev server's `POST /v1/dev/clock`).
    func advanceClock(seconds: Int) async throws {
        _ = try await http("POST", "/v1/dev/clock", body: "{\"advance_secs\":\(seconds)}")
    }

    private func http(_ method: String, _ path: String, body: String? = nil) async throws -> String {
        var request = URLRequest(url: URL(string: url + path)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return try await withCheckedThrowingContinuation { c in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error { return c.resume(throwing: error) }
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                guard (200..<300).contains(status) else { return c.resume(throwing: TestError("\(method) \(path): HTTP \(status)")) }
                c.resume(returning: String(decoding: data ?? Data(), as: UTF8.self))
            }.resume()
        }
    }

    deinit {
        // SIGKILL, not SIGTERM: a graceful shutdown would wait for clients of this test
        // still holding event streams open. The data directory is thrown away anyway.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A `SecretStore` written in Swift for the Linux tests (Keychain is the default on Apple):
/// each label's 256-bit key lives in this object's memory only, so a new store instance is
/// "the key was lost". Wrapped = key check (8 bytes) ‖ nonce (16) ‖ secret XOR keystream.
/// The keystream is a keyed xorshift, not a cipher: this is a test double of the contract
/// (wrap, unwrap, delete, typed errors), counting its calls, not a secure store.
final class MemorySecretStore: SecretStore, @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String: [UInt8]] = [:]
    private(set) var wraps = 0
    private(set) var unwraps = 0
    private(set) var deletes = 0

    func wrapSecret(label: String, secret: Data) throws -> Data {
        let key: [UInt8] = lock.withLock {
            wraps += 1
            if let k = keys[label] { return k }
            var rng = SystemRandomNumberGenerator()
            let k = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            keys[label] = k
            return k
        }
        var rng = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Data(Self.check(key, label) + nonce + Self.xor(Array(secret), key, nonce))
    }

    func unwrapSecret(label: String, wrapped: Data) throws -> Data {
        let key: [UInt8]? = lock.withLock {
            unwraps += 1
            return keys[label]
        }
        guard let key else { throw SecretStoreError.KeyNotFound }
        let bytes = Array(wrapped)
        guard bytes.count >= 24, Array(bytes[0..<8]) == Self.check(key, label) else { throw SecretStoreError.AuthenticationFailed }
        return Data(Self.xor(Array(bytes[24...]), key, Array(bytes[8..<24])))
    }

    func deleteSecret(label: String) throws {
        lock.withLock {
            deletes += 1
            keys[label] = nil
        }
    }

    private static func seed(_ parts: [UInt8]...) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for p in parts { for b in p { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        return h | 1
    }

    private static func check(_ key: [UInt8], _ label: String) -> [UInt8] {
        withUnsafeBytes(of: seed(key, Array(label.utf8), [0x63]).bigEndian) { Array($0) }
    }

    private static func xor(_ data: [UInt8], _ key: [UInt8], _ nonce: [UInt8]) -> [UInt8] {
        var s = seed(key, nonce)
        return data.map { b in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return b ^ UInt8(truncatingIfNeeded: s)
        }
    }
}

/// The person at a phone's Face ID prompt, faked: confirms while `answer` is true; counts
/// the prompts and keeps their texts. Called on a Rust thread.
final class FakePresence: UserPresence, @unchecked Sendable {
    private let lock = NSLock()
    private var _answer: Bool
    private var _reasons: [String] = []
    init(answer: Bool = true) { _answer = answer }
    var answer: Bool {
        get { lock.withLock { _answer } }
        set { lock.withLock { _answer = newValue } }
    }
    var reasons: [String] { lock.withLock { _reasons } }
    var asked: Int { reasons.count }

    func confirmPresence(reason: String) -> Bool {
        lock.withLock {
            _reasons.append(reason)
            return _answer
        }
    }
}

func tempProfile() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vouch-swift-profile-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

func device(_ kind: DeviceKind = .mobile) -> DeviceInfo {
    DeviceInfo(kind: kind, model: kind == .mobile ? "iPhone 15" : "Laptop", os: "iOS 18", app: "Vouch")
}

func openVouch(
    _ server: TestServer,
    kind: DeviceKind = .mobile,
    store: SecretStore = MemorySecretStore(),
    profile: String = tempProfile(),
    presence: UserPresence? = FakePresence(answer: true)
) throws -> Vouch {
    try Vouch(profileDir: profile, serverURL: server.url, device: device(kind), secretStore: store, presence: presence)
}

/// "482 913": six digits in two groups of three.
func isGroupedCode(_ code: String) -> Bool {
    code.range(of: "^[0-9]{3} [0-9]{3}$", options: .regularExpression) != nil
}

/// The code with its last digit changed (what a person might mistype).
func mistype(_ code: String) -> String {
    let last = code.last!
    let next = last == "9" ? "0" : String(Character(UnicodeScalar(last.asciiValue! + 1)))
    return String(code.dropLast()) + next
}

/// Sign in, register with the default name, verify by email code.
func enrollByEmail(_ v: Vouch, _ server: TestServer, _ email: String = alice) async throws {
    _ = try await v.signIn(email: email, password: password)
    _ = try await v.registerDevice(name: try v.defaultDeviceName())
    _ = try await v.requestEmailCode()
    _ = try await v.submitEmailCode(try await server.latestCode(email))
}

/// A new device of alice: signs in, registers as `name` and opens its approval request;
/// the prompt it shows (code and QR).
func openRequest(_ v: Vouch, name: String) async throws -> ApprovalPrompt {
    _ = try await v.signIn(email: alice, password: password)
    _ = try await v.registerDevice(name: name)
    return try await v.startApproval()
}

/// Awaits `error` of the expected kind from `body`; fails otherwise. (On the main actor,
/// so the view-model tests can pass closures over main-actor state in Swift 6 mode.)
@MainActor
func assertThrowsAsync<T>(_ body: @MainActor () async throws -> T, file: StaticString = #filePath, line: UInt = #line, _ check: @MainActor (Error) -> Bool) async {
    do {
        _ = try await body()
        XCTFail("nothing was thrown", file: file, line: line)
    } catch {
        XCTAssertTrue(check(error), "unexpected error \(error)", file: file, line: line)
    }
}

/// Polls `condition` until it holds, at most `timeout` seconds (a bound, not a sleep: it
/// returns as soon as the condition holds).
@MainActor
func eventually(_ what: String, timeout: Double = 20, file: StaticString = #filePath, line: UInt = #line, _ condition: @MainActor () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try await !condition() {
        if Date() > deadline {
            XCTFail("timed out waiting for \(what)", file: file, line: line)
            throw TestError("timed out waiting for \(what)")
        }
        try await Task.sleep(nanoseconds: 5_000_000)
    }
}

/// A `waitForApproval()` running in its own task, observable while it runs.
final class Waiter: @unchecked Sendable {
    let task: Task<EnrollmentState, Error>

    init(_ v: Vouch) {
        let box = DoneFlag()
        task = Task {
            defer { box.set() }
            return try await v.waitForApproval()
        }
        flag = box
    }
    private let flag: DoneFlag
    var isCompleted: Bool { flag.isSet }

    /// The result, within `timeout` seconds.
    func value(timeout: Double = 20) async throws -> EnrollmentState {
        try await eventually("the new device's wait to end", timeout: timeout) { self.isCompleted }
        return try await task.value
    }
}

final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func set() { lock.withLock { done = true } }
    var isSet: Bool { lock.withLock { done } }
}

/// The first value of `stream` matching `predicate`, within `timeout` seconds.
func first<T: Sendable>(_ stream: AsyncStream<T>, timeout: Double = 20, where predicate: @escaping @Sendable (T) -> Bool) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            for await value in stream where predicate(value) { return value }
            return nil
        }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else { throw TestError("no matching value within \(timeout) s") }
        return value
    }
}

extension EnrollmentState {
    var isTrusted: Bool { if case .trusted = self { return true }; return false }
    var tier: Tier? { if case let .trusted(_, _, _, _, tier) = self { return tier }; return nil }
    var verifiedBy: VerifiedBy? { if case let .trusted(_, _, _, verifiedBy, _) = self { return verifiedBy }; return nil }
    var deviceId: String? {
        switch self {
        case let .trusted(_, id, _, _, _), let .verifying(_, id, _, _): return id
        default: return nil
        }
    }
    var kind: String { String(String(describing: self).prefix { $0 != "(" }) }
}

/// A browser at the server's web console over real HTTP: its own cookies (set by hand from
/// `Set-Cookie`), redirects not followed. Signs in with the password and reads the 6-digit
/// code the waiting page shows.
final class ConsoleBrowser: @unchecked Sendable {
    private let server: TestServer
    private var cookies: [String: String] = [:]
    private let session: URLSession

    init(_ server: TestServer) {
        self.server = server
        let config = URLSessionConfiguration.ephemeral
        config.httpShouldSetCookies = false
        config.httpCookieAcceptPolicy = .never
        session = URLSession(configuration: config, delegate: NoRedirect(), delegateQueue: nil)
    }

    /// One request; its status and body.
    func send(_ method: String, _ path: String, form: [String: String]? = nil) async throws -> (Int, String) {
        let url = URL(string: server.url + path)!
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("SwiftTest/1.0", forHTTPHeaderField: "User-Agent")
        request.setValue(cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "), forHTTPHeaderField: "Cookie")
        if let form {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            request.httpBody = Data(form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&").utf8)
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        }
        let (status, headers, body): (Int, [String: String], String) = try await withCheckedThrowingContinuation { c in
            session.dataTask(with: request) { data, response, error in
                if let error { return c.resume(throwing: error) }
                let http = response as? HTTPURLResponse
                let headers = (http?.allHeaderFields as? [String: String]) ?? [:]
                c.resume(returning: (http?.statusCode ?? 0, headers, String(decoding: data ?? Data(), as: UTF8.self)))
            }.resume()
        }
        for cookie in HTTPCookie.cookies(withResponseHeaderFields: headers, for: url) {
            if cookie.value.isEmpty { cookies[cookie.name] = nil } else { cookies[cookie.name] = cookie.value }
        }
        return (status, body)
    }

    /// Signs in as `email` with the dev password; returns the code the browser shows.
    func signIn(_ email: String = alice) async throws -> String {
        let (_, form) = try await send("GET", "/console/login")
        let csrf = try capture("name=\"csrf\" value=\"([^\"]+)\"", in: form)
        let (status, _) = try await send("POST", "/console/login", form: ["csrf": csrf, "email": email, "password": password])
        guard status == 303 else { throw TestError("console sign-in: HTTP \(status)") }
        let (waitStatus, wait) = try await send("GET", "/console/wait")
        guard waitStatus == 200 else { throw TestError("console wait page: HTTP \(waitStatus)") }
        return try capture("aria-label=\"Code ([0-9]{6})", in: wait)
    }

    private func capture(_ pattern: String, in text: String) throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        guard let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let r = Range(m.range(at: 1), in: text) else { throw TestError("no \(pattern) in the page") }
        return String(text[r])
    }
}

/// Lets a test see a redirect instead of following it (as the console's forms answer 303).
final class NoRedirect: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
