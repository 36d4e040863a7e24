import Foundation
import VouchKit
import XCTest

/// Every error has words, every word is in `Localizable.strings`, and the countdown of
/// "Verify your device" (pure logic, at given times: no clock in these tests).
final class UserMessageTests: XCTestCase {
    /// One value of every `VouchError` case. `UserMessage.init` switches over the enum
    /// without `default`, so a case added to the Rust error does not compile until it has
    /// a key; this test also fails when this list misses a case of the generated enum.
    static let everyError: [VouchError] = [
        .Offline, .ServerFailed(status: 502), .DeviceDisabled, .InsecureTransport, .WrongCode(attemptsLeft: 2), .CodeExpired, .CodeLocked, .TooManyRequests(retryAfterSecs: 30),
        .DeviceLimitReached(detail: "d"), .DeviceNameTaken, .InvalidCredentials, .CodeMismatch, .NoAnswer, .CodeUsedUp,
        .UserPresenceRequired, .ApprovalFailed, .InvalidQrCode, .KeyHolderRequired, .KeyConflict, .AlreadyDecided,
        .ChainRefused(reason: "out of order"), .InvalidRecoveryWords(problem: .unknownWord(position: 7)),
            .InvalidRecoveryWords(problem: .wrongCount(count: 23)), .InvalidRecoveryWords(problem: .checksum), .RecoveryKeyNotOnChain,
        .RequestExpired, .DeviceWiped, .InvalidState(reason: "r"), .UntrustedCertificate, .CertificatePinMismatch,
        .InvalidInput(reason: "r"), .Server(code: "c", detail: "d"), .KeyStore(reason: "r"), .Storage(reason: "r"),
        .Internal(reason: "r"),
    ]

    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources").standardizedFileURL

    /// The case names of `VouchError` in the generated Swift (what Rust exports).
    func generatedErrorCases() throws -> [String] {
        let text = try String(contentsOf: Self.sources.appendingPathComponent("VouchFFI/VouchFFI.swift"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        // uniffi writes `public` on a line of its own: "public \nenum VouchError: Swift.Error, …".
        guard let start = lines.firstIndex(where: { $0.hasPrefix("enum VouchError:") || $0.hasPrefix("public enum VouchError:") }) else {
            throw TestError("no `enum VouchError` in the generated Swift")
        }
        var names: [String] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("}") { break }
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("case ") else { continue }
            names.append(String(t.dropFirst(5).prefix { $0.isLetter || $0.isNumber }))
        }
        return names
    }

    func testEveryGeneratedErrorCaseHasItsOwnKeyAndText() throws {
        let generated = try generatedErrorCases()
        XCTAssertGreaterThanOrEqual(generated.count, 20, "the parse found the enum's cases: \(generated)")
        let listed = Self.everyError.map { String(String(describing: $0).prefix { $0 != "(" }) }
        XCTAssertEqual(Set(listed), Set(generated), "a VouchError case without a test value (and so maybe without a key)")
        var keys = Set<String>()
        for e in Self.everyError {
            let m = UserMessage(e)
            XCTAssertTrue(m.key.hasPrefix("error."), m.key)
            XCTAssertTrue(UserMessage.allKeys.contains(m.key), "\(m.key) is not a known key")
            XCTAssertNotEqual(m.text, m.key, "\(m.key) has no text")
            XCTAssertFalse(m.text.contains("detail") || m.text.contains("reason"), "no field dumps on screen: \(m.text)")
            keys.insert(m.key)
        }
        XCTAssertEqual(keys.count, Self.everyError.count, "one key per case")
    }

    /// `Localizable.strings` and the English table hold the same keys with the same text,
    /// and the text a screen shows is the strings file's.
    func testLocalizableStringsHoldsEveryKey() throws {
        let path = Self.sources.appendingPathComponent("VouchKit/Resources/en.lproj/Localizable.strings")
        let text = try String(contentsOf: path, encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"^"([^"]+)" = "((?:[^"\\]|\\.)*)";$"#, options: .anchorsMatchLines)
        var file: [String: String] = [:]
        for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            file[String(text[Range(m.range(at: 1), in: text)!])] = String(text[Range(m.range(at: 2), in: text)!])
        }
        XCTAssertEqual(Set(file.keys), Set(UserMessage.allKeys))
        for key in UserMessage.allKeys {
            XCTAssertEqual(UserMessage(key: key).text, file[key], key)
        }
        XCTAssertEqual(UserMessage(key: "setup.code_expires_in", arguments: ["4:59"]).text, "The code expires in 4:59.")
        XCTAssertEqual(UserMessage(CancellationError()).key, "error.cancelled")
        XCTAssertEqual(UserMessage(TestError("x")).key, "error.unexpected")
    }

    func testTheVerifyScreenCountsDownAndSaysWhenTheCodeExpired() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let v = VerifyCode(expiresAt: t0.addingTimeInterval(300), resendAfter: t0.addingTimeInterval(30))
        XCTAssertEqual(v.countdown(at: t0), "5:00")
        XCTAssertEqual(v.countdown(at: t0.addingTimeInterval(0.5)), "5:00")
        XCTAssertEqual(v.countdown(at: t0.addingTimeInterval(1)), "4:59")
        XCTAssertEqual(v.countdown(at: t0.addingTimeInterval(241)), "0:59")
        XCTAssertEqual(v.status(at: t0.addingTimeInterval(1))?.text, "The code expires in 4:59.")
        XCTAssertFalse(v.isExpired(at: t0.addingTimeInterval(299.5)))
        XCTAssertTrue(v.isExpired(at: t0.addingTimeInterval(300)))
        XCTAssertEqual(v.countdown(at: t0.addingTimeInterval(900)), "0:00")
        XCTAssertEqual(v.status(at: t0.addingTimeInterval(300))?.key, "error.code_expired")
        // Re-send throttle.
        XCTAssertEqual(v.resendIn(at: t0), 30)
        XCTAssertEqual(v.resendIn(at: t0.addingTimeInterval(29.2)), 1)
        XCTAssertEqual(v.resendIn(at: t0.addingTimeInterval(30)), 0)
        // The server's word wins over the clock; an error is shown before the countdown.
        var told = v
        told.expired = true
        XCTAssertTrue(told.isExpired(at: t0))
        told.error = UserMessage(key: "error.offline")
        XCTAssertEqual(told.status(at: t0)?.key, "error.offline")
        XCTAssertEqual(Countdown.text(until: t0.addingTimeInterval(600), now: t0), "10:00")
        XCTAssertEqual(Countdown.seconds(until: t0, now: t0.addingTimeInterval(5)), 0)
        XCTAssertNil(VerifyCode().countdown(at: t0))
        XCTAssertFalse(VerifyCode().isExpired(at: t0))
    }
}
