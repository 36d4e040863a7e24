import Foundation
import VouchKit
import XCTest

/// The view models' state machines on the main actor, against a real server (mirrors the
/// Kotlin view-model tests, plus resume from every saved state).
@MainActor
final class ViewModelTests: XCTestCase {
    func testSetupWalksTheScreensInOrderWithApproval() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        _ = try await laptop.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: laptop)
        var screens: [SetupScreen] = []
        let stream = vm.screens
        let reader = Task { @MainActor in for await s in stream { screens.append(s) } }
        await Task.yield()
        vm.start()
        XCTAssertEqual(vm.screen, .nameDevice(suggested: try laptop.defaultDeviceName(), error: nil))
        await vm.submitName("My laptop", byEmail: false)
        guard case let .waitingForApproval(code, qr, runsLeft, purpose, codeUsedUp) = vm.screen else { return XCTFail("\(vm.screen)") }
        XCTAssertTrue(isGroupedCode(code))
        XCTAssertTrue(qr.hasPrefix("VOUCH2:"))
        XCTAssertEqual(runsLeft, 3)
        XCTAssertEqual(purpose, .enroll)
        XCTAssertFalse(codeUsedUp)
        // The code's own ten minutes, counted down on the new device.
        let codeExpires = try XCTUnwrap(vm.approvalExpiresAt)
        XCTAssertEqual(codeExpires.timeIntervalSinceNow, 600, accuracy: 30)
        let awaited1 = try await phone.refreshPendingRequests().first?.requestId
        let requestId = try XCTUnwrap(awaited1)
        try await phone.approve(requestId: requestId, code: code)
        try await eventually("Trusted") { vm.screen == .trusted }
        try await eventually("the reader saw Trusted") { screens.last == .trusted }
        reader.cancel()
        let kinds = screens.map { String(String(describing: $0).prefix { $0 != "(" }) }
        var distinct: [String] = []
        for k in kinds where distinct.last != k { distinct.append(k) }
        XCTAssertEqual(distinct, ["start", "nameDevice", "waitingForApproval", "trusted"])
    }

    func testSetupRemindMeLaterAndTheEmailPathWithWrongCodes() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: v)
        await vm.remindMeLater()
        XCTAssertEqual(vm.screen, .notSecure)
        guard case .untrusted(_, true) = v.state else { return XCTFail("\(v.state)") }
        vm.start()
        await vm.submitName(" ", byEmail: true)
        guard case .nameDevice(_, let error) = vm.screen, error != nil else { return XCTFail("\(vm.screen)") }
        await vm.submitName("Phone", byEmail: true)
        guard case let .verifyCode(sent) = vm.screen, sent.error == nil, sent.attemptsLeft == nil, !sent.expired else { return XCTFail("\(vm.screen)") }
        // The five-minute expiry, shown and counted down.
        let expiresAt = try XCTUnwrap(sent.expiresAt)
        XCTAssertEqual(expiresAt.timeIntervalSinceNow, 300, accuracy: 30)
        let code = try await server.latestCode(alice)
        await vm.submitCode(code == "000000" ? "111111" : "000000")
        guard case let .verifyCode(wrong) = vm.screen else { return XCTFail("\(vm.screen)") }
        XCTAssertEqual(wrong.error?.key, "error.wrong_code")
        XCTAssertEqual(wrong.error?.text, "Wrong code. 4 attempt(s) left.")
        XCTAssertEqual(wrong.attemptsLeft, 4)
        XCTAssertEqual(wrong.expiresAt, expiresAt, "the countdown keeps going after a wrong code")
        await vm.submitCode("999999x")
        guard case .verifyCode(let bad) = vm.screen, bad.error != nil else { return XCTFail("\(vm.screen)") }
        await vm.submitCode(code)
        XCTAssertEqual(vm.screen, .trusted)
    }

    func testSetupShowsAnExpiredEmailCode() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: v)
        vm.start()
        await vm.submitName("Phone", byEmail: true)
        let code = try await server.latestCode(alice)
        try await server.advanceClock(seconds: 301)
        await vm.submitCode(code)
        guard case let .verifyCode(expired) = vm.screen else { return XCTFail("\(vm.screen)") }
        XCTAssertTrue(expired.expired)
        XCTAssertEqual(expired.error?.key, "error.code_expired")
        XCTAssertEqual(expired.status(at: Date())?.text, "This code expired. Ask for a new one.")
        // "Send a new code": a fresh code with a fresh expiry, and it works.
        await vm.resendCode()
        guard case let .verifyCode(fresh) = vm.screen, fresh.error == nil, !fresh.expired else { return XCTFail("\(vm.screen)") }
        let newCode = try await server.latestCode(alice)
        XCTAssertNotEqual(newCode, code)
        await vm.submitCode(newCode)
        XCTAssertEqual(vm.screen, .trusted)
    }

    func testResendIsThrottledAndTheScreenSaysWhenItWorksAgain() async throws {
        let server = try TestServer()
        let v = try openVouch(server)
        _ = try await v.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: v)
        vm.start()
        await vm.submitName("Phone", byEmail: true)
        guard case let .verifyCode(sent) = vm.screen else { return XCTFail("\(vm.screen)") }
        let first = try await server.latestCode(alice)
        // Right away: refused by the server's throttle; the first code still stands.
        await vm.resendCode()
        guard case let .verifyCode(throttled) = vm.screen else { return XCTFail("\(vm.screen)") }
        XCTAssertEqual(throttled.error?.key, "error.too_many_requests")
        XCTAssertGreaterThan(throttled.resendIn(at: Date()), 0)
        XCTAssertEqual(throttled.expiresAt, sent.expiresAt)
        let unchanged = try await server.latestCode(alice)
        XCTAssertEqual(unchanged, first)
        // After the interval (server clock): a new code goes out.
        try await server.advanceClock(seconds: 31)
        await vm.resendCode()
        guard case let .verifyCode(again) = vm.screen, again.error == nil else { return XCTFail("\(vm.screen)") }
        let second = try await server.latestCode(alice)
        XCTAssertNotEqual(second, first)
    }

    func testSetupDeniedAndNoAccessToTrustedDevice() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        // "I don't have access to my trusted device" while waiting: email code instead.
        let tablet = try openVouch(server)
        _ = try await tablet.signIn(email: alice, password: password)
        let switching = SetupViewModel(vouch: tablet)
        switching.start()
        await switching.submitName("Tablet", byEmail: false)
        guard case .waitingForApproval = switching.screen else { return XCTFail("\(switching.screen)") }
        await switching.noAccessToTrustedDevice()
        guard case let .verifyCode(v) = switching.screen, v.error == nil, v.expiresAt != nil else { return XCTFail("\(switching.screen)") }
        // Denied by the trusted phone.
        let laptop = try openVouch(server, kind: .web)
        _ = try await laptop.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: laptop)
        vm.start()
        await vm.submitName("Laptop", byEmail: false)
        let requestId = try XCTUnwrap(try laptop.approvalPrompt()?.requestId)
        _ = try await phone.refreshPendingRequests()
        try await phone.deny(requestId: requestId)
        try await eventually("denied") { vm.screen == .failed(UserMessage(key: "setup.denied")) }
    }

    func testSetupShowsAnExpiredRequest() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let laptop = try openVouch(server, kind: .web)
        _ = try await laptop.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: laptop)
        vm.start()
        await vm.submitName("Laptop", byEmail: false)
        guard case .waitingForApproval = vm.screen else { return XCTFail("\(vm.screen)") }
        try await server.advanceClock(seconds: 601)
        try await eventually("expired") { vm.screen == .failed(UserMessage(key: "setup.expired")) }
        // After a restart the saved state says the same.
        let again = SetupViewModel(vouch: laptop)
        again.resume()
        XCTAssertEqual(again.screen, .failed(UserMessage(key: "setup.expired")))
    }

    func testSetupCodeUsedUpThenGetANewCode() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let laptop = try openVouch(server, kind: .web)
        _ = try await laptop.signIn(email: alice, password: password)
        let vm = SetupViewModel(vouch: laptop)
        vm.start()
        await vm.submitName("Laptop", byEmail: false)
        guard case let .waitingForApproval(code, _, _, _, _) = vm.screen else { return XCTFail("\(vm.screen)") }
        let requestId = try XCTUnwrap(try laptop.approvalPrompt()?.requestId)
        _ = try await phone.refreshPendingRequests()
        for _ in 0..<3 { try? await phone.approve(requestId: requestId, code: mistype(code)) }
        try await eventually("code used up") {
            if case .waitingForApproval(_, _, 0, _, true) = vm.screen { return true }
            return false
        }
        await vm.newCode()
        guard case let .waitingForApproval(fresh, _, 3, _, false) = vm.screen else { return XCTFail("\(vm.screen)") }
        let newId = try XCTUnwrap(try laptop.approvalPrompt()?.requestId)
        _ = try await phone.refreshPendingRequests()
        try await phone.approve(requestId: newId, code: fresh)
        try await eventually("Trusted") { vm.screen == .trusted }
    }

    func testAnEmailOnlyDeviceAsksForKeysAndTheApproverScreenFlagsIt() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(phone, server)
        let vault = try await phone.createVault(name: "Personal")
        let item = try await phone.putItem(vaultId: vault.id, value: Data("pin 4711".utf8))
        // "I don't have access to my trusted device": email makes it email-only.
        try await enrollByEmail(laptop, server)
        XCTAssertEqual(laptop.state.tier, .emailOnly)
        await assertThrowsAsync({ try await laptop.refreshPendingRequests() }) {
            if case VouchError.KeyHolderRequired = $0 { return true }
            return false
        }
        let setup = SetupViewModel(vouch: laptop)
        await setup.askForKeys()
        guard case let .waitingForApproval(code, _, 3, .shareKeys, false) = setup.screen else { return XCTFail("\(setup.screen)") }
        let requestId = try XCTUnwrap(try laptop.approvalPrompt()?.requestId)

        let approvals = ApprovalViewModel(vouch: phone)
        await approvals.refresh()
        await approvals.open(requestId: requestId)
        let screen = try XCTUnwrap(approvals.selected)
        XCTAssertEqual(screen.warning, Vouch.approverWarning())
        XCTAssertTrue(screen.warning.contains("Nobody from Vouch"))
        XCTAssertTrue(screen.emailOnly, "an email-only requester is flagged")
        XCTAssertFalse(screen.otherNetwork)
        XCTAssertEqual(screen.request.purpose, .shareKeys)
        // A mistyped code is told apart from a lost connection.
        await approvals.approve(code: mistype(code))
        let refused = try XCTUnwrap(approvals.selected)
        XCTAssertFalse(refused.approved)
        XCTAssertFalse(refused.waitingForDevice)
        XCTAssertEqual(refused.errorKey, "error.code_mismatch")
        XCTAssertTrue(refused.error?.contains("does not match") == true, "\(String(describing: refused.error))")
        await approvals.approve(code: "12")
        XCTAssertEqual(approvals.selected?.errorKey, "approval.code_is_six_digits")
        await approvals.approve(code: code)
        XCTAssertEqual(approvals.selected?.approved, true)
        XCTAssertNil(approvals.selected?.error)
        try await eventually("Trusted") { setup.screen == .trusted }
        XCTAssertEqual(laptop.state.tier, .keyHolder)
        _ = try await laptop.sync()
        XCTAssertEqual(try laptop.getItem(vaultId: vault.id, itemId: item.itemId), Data("pin 4711".utf8))
        approvals.close()
        XCTAssertNil(approvals.selected)
    }

    func testTheApprovalListFollowsTheStreamAndDenyClosesTheScreen() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let approvals = ApprovalViewModel(vouch: phone)
        let laptop = try openVouch(server, kind: .web)
        let prompt = try await openRequest(laptop, name: "Laptop")
        _ = try await phone.refreshPendingRequests() // the listener feeds the list
        try await eventually("the request listed") { approvals.requests.map(\.requestId) == [prompt.requestId] }
        await approvals.open(requestId: prompt.requestId)
        XCTAssertEqual(approvals.selected?.request.deviceName, "Laptop")
        await approvals.deny()
        XCTAssertNil(approvals.selected, "deny closes the screen")
        guard case .denied = try await Waiter(laptop).value() else { return XCTFail("not denied") }
        // A request that is gone: opening it shows nothing; deciding it again is refused.
        await approvals.open(requestId: "00000000-0000-0000-0000-000000000000")
        XCTAssertNil(approvals.selected)
    }

    func testResumeFromEverySavedStateAfterReopeningTheProfile() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let store = MemorySecretStore()
        let profile = tempProfile()
        func reopened() throws -> (Vouch, SetupViewModel) {
            let v = try openVouch(server, kind: .web, store: store, profile: profile)
            let vm = SetupViewModel(vouch: v)
            vm.resume()
            return (v, vm)
        }
        // Signed out.
        XCTAssertEqual(try reopened().1.screen, .start)
        // Untrusted, reminded later: the not-secure banner after a restart too.
        do {
            let v = try openVouch(server, kind: .web, store: store, profile: profile)
            _ = try await v.signIn(email: alice, password: password)
            XCTAssertEqual(try reopened().1.screen, .start)
            _ = try await v.remindMeLater()
        }
        XCTAssertEqual(try reopened().1.screen, .notSecure)
        // Registered, nothing started: "Verify your identity".
        do {
            let v = try openVouch(server, kind: .web, store: store, profile: profile)
            _ = try await v.registerDevice(name: "Laptop")
        }
        XCTAssertEqual(try reopened().1.screen, .verifyIdentity(deviceName: "Laptop"))
        // Waiting for approval: the same code again after a restart, and the wait resumes.
        let code: String
        do {
            let (_, vm) = try reopened()
            await vm.verifyWithTrustedDevice()
            guard case let .waitingForApproval(shown, _, 3, .enroll, false) = vm.screen else { return XCTFail("\(vm.screen)") }
            code = shown
            vm.stopWaiting() // the app is closed
        }
        let (v, resumed) = try reopened()
        guard case .waitingForApproval(code, _, 3, .enroll, false) = resumed.screen else { return XCTFail("\(resumed.screen)") }
        let requestId = try XCTUnwrap(try v.approvalPrompt()?.requestId)
        _ = try await phone.refreshPendingRequests()
        try await phone.approve(requestId: requestId, code: code)
        try await eventually("Trusted after resume") { resumed.screen == .trusted }
        // Waiting for an email code, on another profile.
        let emailStore = MemorySecretStore()
        let emailProfile = tempProfile()
        do {
            let other = try openVouch(server, kind: .web, store: emailStore, profile: emailProfile)
            _ = try await other.signIn(email: alice, password: password)
            _ = try await other.registerDevice(name: "Desk")
            _ = try await other.requestEmailCode()
        }
        let emailVM = SetupViewModel(vouch: try openVouch(server, kind: .web, store: emailStore, profile: emailProfile))
        guard case let .verifyCode(v) = emailVM.screen, v.expiresAt != nil, v.resendAfter != nil else { return XCTFail("\(emailVM.screen)") }
        await emailVM.submitCode(try await server.latestCode(alice))
        // Alice has a key holder (the phone): a device verified by email is email-only and
        // is offered "Ask for my vault keys".
        XCTAssertEqual(emailVM.screen, .emailOnly(error: nil))
        XCTAssertEqual(try reopened().1.screen, .trusted)
    }

    /// What the sample's camera scanner feeds: `approveScanned` on the "Trust this session?"
    /// screen. Another request's QR code is refused with its own words and nothing is
    /// sealed; the new device's own QR code approves it.
    func testApproveByQrThroughTheViewModel() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let laptop = try openVouch(server, kind: .web)
        _ = try await laptop.signIn(email: alice, password: password)
        let setup = SetupViewModel(vouch: laptop)
        setup.start()
        await setup.submitName("Laptop", byEmail: false)
        guard case let .waitingForApproval(_, qr, _, _, _) = setup.screen else { return XCTFail("\(setup.screen)") }
        let requestId = try XCTUnwrap(try laptop.approvalPrompt()?.requestId)
        let approvals = ApprovalViewModel(vouch: phone)
        await approvals.refresh()
        await approvals.open(requestId: requestId)
        XCTAssertNotNil(approvals.selected)
        await approvals.approveScanned("VOUCH2:not-this-request")
        XCTAssertEqual(approvals.selected?.errorKey, "error.invalid_qr_code")
        XCTAssertEqual(approvals.selected?.approved, false)
        await approvals.approveScanned(qr)
        XCTAssertNil(approvals.selected?.errorKey, "\(String(describing: approvals.selected?.error))")
        XCTAssertEqual(approvals.selected?.approved, true)
        try await eventually("trusted by QR") { setup.screen == .trusted }
    }
}
