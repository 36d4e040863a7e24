import Foundation
import VouchKit
import XCTest

/// The enrollment flows from Swift against a real server (mirrors the Kotlin JVM tests).
final class EnrollmentTests: XCTestCase {
    func testEmailCodeEnrollment() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        XCTAssertEqual(v.state, .signedOut)
        guard case .untrusted = try await v.signIn(email: alice, password: password) else { return XCTFail("not untrusted") }
        XCTAssertEqual(try v.defaultDeviceName(), "alice iPhone 15 - iOS 18/Vouch")
        _ = try await v.registerDevice(name: try v.defaultDeviceName())
        guard case .verifying(_, _, _, .emailCode) = try await v.requestEmailCode() else { return XCTFail("no email code") }
        let trusted = try await v.submitEmailCode(try await server.latestCode(alice))
        XCTAssertEqual(trusted.verifiedBy, .emailCode)
        XCTAssertEqual(trusted.tier, .keyHolder, "the first device of a user is its first key holder")
        XCTAssertTrue(v.state.isTrusted)
    }

    func testCodeApprovalWhileTheNewDeviceWaitsAndBinarySecretsTravel() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let vault = try await phone.createVault(name: "Personal")
        let secret = Data((0...255).map { UInt8($0) } + [0, 0, 0xff]) // every byte value, NULs included
        let item = try await phone.putItem(vaultId: vault.id, value: secret)
        let prompt = try await openRequest(laptop, name: "Laptop")
        XCTAssertTrue(isGroupedCode(prompt.code), "six digits, grouped")
        XCTAssertEqual(prompt.runsLeft, 3)
        XCTAssertEqual(prompt.purpose, .enroll)
        // The new device answers the approver's run: it waits while the code is typed.
        let waiter = Waiter(laptop)
        let requests = try await phone.refreshPendingRequests()
        XCTAssertEqual(requests.count, 1)
        let request = requests[0]
        XCTAssertEqual(request.requestId, prompt.requestId)
        XCTAssertEqual(request.purpose, .enroll)
        XCTAssertEqual(request.deviceName, "Laptop")
        XCTAssertNil(request.requesterTier, "a new device has no tier yet")
        XCTAssertFalse(request.otherNetwork)
        XCTAssertEqual(request.status, .pending)
        try await phone.approve(requestId: prompt.requestId, code: prompt.code)
        let state = try await waiter.value()
        XCTAssertEqual(state.verifiedBy, .approval)
        XCTAssertEqual(state.tier, .keyHolder)
        XCTAssertNil(try laptop.approvalPrompt(), "the code is gone")
        _ = try await laptop.sync()
        XCTAssertEqual(try laptop.getItem(vaultId: vault.id, itemId: item.itemId), secret, "bytes in = bytes out")
    }

    func testQrApproval() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let prompt = try await openRequest(laptop, name: "Laptop")
        XCTAssertTrue(prompt.qrPayload.hasPrefix("VOUCH2:"))
        let waiter = Waiter(laptop)
        _ = try await phone.refreshPendingRequests()
        // A QR text that is not this request's is refused before anything is sent.
        await assertThrowsAsync({ try await phone.approveScanned(requestId: prompt.requestId, scanned: "VOUCH2:garbage") }) {
            if case VouchError.InvalidQrCode = $0 { return true }
            return false
        }
        try await phone.approveScanned(requestId: prompt.requestId, scanned: prompt.qrPayload)
        let awaited1 = try await waiter.value().verifiedBy
        XCTAssertEqual(awaited1, .approval)
    }

    func testWrongEmailCodeIsTypedWithAttemptsLeft() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        _ = try await v.registerDevice(name: "Phone")
        _ = try await v.requestEmailCode()
        let code = try await server.latestCode(alice)
        let wrong = code == "000000" ? "111111" : "000000"
        await assertThrowsAsync({ try await v.submitEmailCode(wrong) }) {
            if case VouchError.WrongCode(let attemptsLeft) = $0 { return attemptsLeft == 4 }
            return false
        }
        // Resending within 30 s is throttled.
        await assertThrowsAsync({ try await v.requestEmailCode() }) {
            if case VouchError.TooManyRequests = $0 { return true }
            return false
        }
        // The right code still works.
        let awaited2 = try await v.submitEmailCode(code).isTrusted
        XCTAssertTrue(awaited2)
    }

    func testExpiredEmailCodeAndResendAfterTheThrottle() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        _ = try await v.registerDevice(name: "Phone")
        _ = try await v.requestEmailCode()
        let old = try await server.latestCode(alice)
        try await server.advanceClock(seconds: 301) // the code lives 300 s
        await assertThrowsAsync({ try await v.submitEmailCode(old) }) {
            if case VouchError.CodeExpired = $0 { return UserMessage($0).key == "error.code_expired" }
            return false
        }
        // Past the resend interval a new code can be asked for, and it works.
        _ = try await v.requestEmailCode()
        let awaited3 = try await v.submitEmailCode(try await server.latestCode(alice)).isTrusted
        XCTAssertTrue(awaited3)
    }

    func testDeviceLimitReachedIsTyped() async throws {
        let server = try TestServer(["--device-limit", "1"])
        let first = try openVouch(server)
        _ = try await first.signIn(email: alice, password: password)
        _ = try await first.registerDevice(name: "One")
        let second = try openVouch(server)
        _ = try await second.signIn(email: alice, password: password)
        await assertThrowsAsync({ try await second.registerDevice(name: "Two") }) {
            if case VouchError.DeviceLimitReached(let detail) = $0 { return detail.contains("disable one") }
            return false
        }
    }

    func testWrongApprovalCodeThenDenial() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let waiter = Waiter(laptop)
        _ = try await phone.refreshPendingRequests()
        await assertThrowsAsync({ try await phone.approve(requestId: prompt.requestId, code: mistype(prompt.code)) }) {
            if case VouchError.CodeMismatch = $0 { return true }
            return false
        }
        await assertThrowsAsync({ try await phone.approve(requestId: prompt.requestId, code: "12") }) {
            if case VouchError.InvalidInput = $0 { return true }
            return false
        }
        let awaited4 = try await phone.refreshPendingRequests().first?.status
        XCTAssertEqual(awaited4, .pending)
        XCTAssertEqual(try laptop.approvalPrompt()?.runsLeft, 2, "the failed run counts against the code")
        XCTAssertFalse(waiter.isCompleted, "the new device still waits")
        try await phone.deny(requestId: prompt.requestId)
        guard case .denied = try await waiter.value() else { return XCTFail("not denied") }
        guard case .denied = laptop.state else { return XCTFail("state not denied") }
    }

    func testApproveWithoutUserPresenceIsRefused() async throws {
        let server = try TestServer()
        let presence = FakePresence(answer: false)
        let phone = try openVouch(server, presence: presence)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let waiter = Waiter(laptop)
        _ = try await phone.refreshPendingRequests()
        // The person at the phone does not confirm: nothing is sent.
        await assertThrowsAsync({ try await phone.approve(requestId: prompt.requestId, code: prompt.code) }) {
            if case VouchError.UserPresenceRequired = $0 { return true }
            return false
        }
        XCTAssertEqual(presence.asked, 1, "the app was asked once")
        XCTAssertTrue(presence.reasons[0].contains("Laptop"), "\(presence.reasons)")
        let awaited5 = try await phone.refreshPendingRequests().first?.status
        XCTAssertEqual(awaited5, .pending, "still pending")
        XCTAssertEqual(try laptop.approvalPrompt()?.runsLeft, 3, "no run reached the new device")
        XCTAssertFalse(waiter.isCompleted, "the new device still waits")
        presence.answer = true
        try await phone.approve(requestId: prompt.requestId, code: prompt.code)
        let awaited6 = try await waiter.value().isTrusted
        XCTAssertTrue(awaited6)
        XCTAssertEqual(presence.asked, 2)
    }

    func testCodeUsedUpAfterThreeWrongRunsThenANewCode() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let waiter = Waiter(laptop)
        _ = try await phone.refreshPendingRequests()
        for _ in 0..<3 {
            do {
                try await phone.approve(requestId: prompt.requestId, code: mistype(prompt.code))
                XCTFail("a mistyped code was accepted")
            } catch VouchError.CodeMismatch {
            } catch VouchError.CodeUsedUp {
            }
        }
        // The new device's code is used up: its wait says so.
        do {
            _ = try await waiter.value()
            XCTFail("the wait should end with CodeUsedUp")
        } catch VouchError.CodeUsedUp {}
        XCTAssertEqual(try laptop.approvalPrompt()?.runsLeft, 0, "no tries left on this code")
        XCTAssertTrue(UserMessage(VouchError.CodeUsedUp).text.contains("new code"))
        // "Get a new code": a fresh code, three tries, and it works.
        let fresh = try await laptop.newCode()
        XCTAssertEqual(fresh.runsLeft, 3)
        let second = Waiter(laptop)
        let pending = try await phone.refreshPendingRequests()
        XCTAssertEqual(pending.map(\.requestId), [fresh.requestId])
        try await phone.approve(requestId: fresh.requestId, code: fresh.code)
        let awaited7 = try await second.value().isTrusted
        XCTAssertTrue(awaited7)
    }

    func testApprovalRequestExpiresByTheServerClock() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let prompt = try await openRequest(laptop, name: "Laptop")
        let listed = try await phone.refreshPendingRequests()
        XCTAssertEqual(listed.map(\.requestId), [prompt.requestId])
        let waiter = Waiter(laptop)
        try await server.advanceClock(seconds: 601) // requests live 600 s
        let end = try await waiter.value()
        guard case .expired = end else { return XCTFail("ended as \(end)") }
        guard case .expired = laptop.state else { return XCTFail("state \(laptop.state)") }
        let after = try await phone.refreshPendingRequests()
        XCTAssertFalse(after.contains { $0.requestId == prompt.requestId && $0.status == .pending })
        // Gone from the approver's list: approving it is refused, nothing is sent.
        await assertThrowsAsync({ try await phone.approve(requestId: prompt.requestId, code: prompt.code) }) {
            if case VouchError.InvalidState = $0 { return true }
            return false
        }
    }
}
