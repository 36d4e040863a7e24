import Foundation
import VouchKit
import XCTest

/// "Approve a web console sign-in" on a phone, against a real server and a real console
/// sign-in over HTTP: user presence first, the code the browser shows, wrong codes counted
/// and the third ending the sign-in, an email-only device refused, and the event loop
/// surfacing a waiting browser.
@MainActor
final class ConsoleTests: XCTestCase {
    func testAPhoneApprovesAConsoleWithTheBrowsersCodeAfterUserPresence() async throws {
        let server = try TestServer()
        let presence = FakePresence(answer: false)
        let phone = try openVouch(server, presence: presence)
        try await enrollByEmail(phone, server)
        let browser = ConsoleBrowser(server)
        let code = try await browser.signIn()
        let vm = ConsoleViewModel(vouch: phone)
        await vm.refresh()
        let session = try XCTUnwrap(vm.waiting.first)
        XCTAssertEqual(vm.waiting.count, 1)
        XCTAssertEqual(session.userAgent, "SwiftTest/1.0")
        XCTAssertFalse(session.otherNetwork)
        vm.open(sessionId: session.id)
        // The person at the phone does not confirm: nothing is sent.
        await vm.approve(code: code)
        XCTAssertEqual(vm.selected?.errorKey, "error.user_presence_required")
        XCTAssertEqual(presence.asked, 1)
        XCTAssertTrue(presence.reasons.first?.contains("console") == true, "\(presence.reasons)")
        let still = try await phone.refreshConsoleSessions()
        XCTAssertEqual(still.map(\.status), [.pending], "still waiting")
        let (waiting, _) = try await browser.send("GET", "/console/devices")
        XCTAssertEqual(waiting, 303, "the browser still waits")
        // Confirmed: approved, and the browser shows the console.
        presence.answer = true
        await vm.approve(code: "\(code.prefix(3)) \(code.suffix(3))")
        XCTAssertEqual(vm.selected?.approved, true, "\(String(describing: vm.selected))")
        let active = try await phone.refreshConsoleSessions()
        XCTAssertEqual(active.map(\.status), [.active])
        XCTAssertEqual(active.first?.approvedBy, phone.state.deviceId)
        // The waiting page (it reloads itself) swaps the cookie for the approved one.
        let (rotated, _) = try await browser.send("GET", "/console/wait")
        XCTAssertEqual(rotated, 303)
        let (status, page) = try await browser.send("GET", "/console/devices")
        XCTAssertEqual(status, 200)
        XCTAssertTrue(page.contains("My trusted devices"))
        // Ended from the phone: the browser is signed out.
        try await phone.revokeConsole(sessionId: try XCTUnwrap(active.first).id)
        let none = try await phone.refreshConsoleSessions()
        XCTAssertEqual(none, [])
        let (after, _) = try await browser.send("GET", "/console/devices")
        XCTAssertEqual(after, 303)
    }

    func testWrongCodesAreRefusedCountedAndTheThirdEndsTheSignIn() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let code = try await ConsoleBrowser(server).signIn()
        let vm = ConsoleViewModel(vouch: phone)
        await vm.refresh()
        let id = try XCTUnwrap(vm.waiting.first?.id)
        vm.open(sessionId: id)
        await vm.approve(code: "12345")
        XCTAssertEqual(vm.selected?.errorKey, "approval.code_is_six_digits", "nothing sent")
        let wrong = mistype(code)
        await assertThrowsAsync({ try await phone.approveConsole(sessionId: id, code: wrong) }) {
            if case VouchError.WrongCode(let left) = $0 { return left == 2 }
            return false
        }
        await vm.approve(code: wrong)
        XCTAssertEqual(vm.selected?.errorKey, "error.wrong_code")
        XCTAssertEqual(vm.selected?.error, "Wrong code. 1 attempt(s) left.")
        await vm.approve(code: wrong)
        XCTAssertEqual(vm.selected?.ended, true)
        XCTAssertEqual(vm.selected?.errorKey, "console.sign_in_ended")
        // The right code no longer works: the sign-in is gone.
        XCTAssertEqual(vm.sessions, [])
        await assertThrowsAsync({ try await phone.approveConsole(sessionId: id, code: code) }) {
            if case VouchError.Server(let c, _) = $0 { return c == "not_found" }
            return false
        }
    }

    func testAnEmailOnlyDeviceCannotListOrApproveAConsole() async throws {
        let server = try TestServer()
        let laptop = try openVouch(server, kind: .web)
        let phone = try openVouch(server)
        try await enrollByEmail(laptop, server)
        try await enrollByEmail(phone, server) // a second device by email: email-only
        let code = try await ConsoleBrowser(server).signIn()
        let listed = try await laptop.refreshConsoleSessions()
        let id = try XCTUnwrap(listed.first).id
        let vm = ConsoleViewModel(vouch: phone)
        await vm.refresh()
        XCTAssertEqual(vm.listError?.key, "error.key_holder_required")
        await assertThrowsAsync({ try await phone.approveConsole(sessionId: id, code: code) }) {
            if case VouchError.KeyHolderRequired = $0 { return true }
            return false
        }
        let still = try await laptop.refreshConsoleSessions()
        XCTAssertEqual(still.map(\.status), [.pending])
    }

    func testTheEventLoopSurfacesABrowserWaitingForApproval() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let vm = ConsoleViewModel(vouch: phone)
        let events = Task { try await phone.runEvents() }
        defer { events.cancel() }
        _ = try await ConsoleBrowser(server).signIn()
        // No call from here: only the console_requested event fills the list.
        try await eventually("the waiting browser on the phone") { vm.waiting.count == 1 }
        XCTAssertEqual(vm.waiting.first?.userAgent, "SwiftTest/1.0")
    }
}
