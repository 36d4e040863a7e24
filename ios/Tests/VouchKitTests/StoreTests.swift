import Foundation
import VouchKit
import XCTest

/// The app-wide store: one client per profile in the process, and after a restart every
/// saved state comes back on the right screen (each "restart" closes the store and opens
/// the profile again from disk, with the same key store, against a real server).
@MainActor
final class StoreTests: XCTestCase {
    /// A profile and its key store that outlive one store, as an app's do across launches.
    final class Install {
        let server: TestServer
        let kind: DeviceKind
        let profile = tempProfile()
        let keys = MemorySecretStore()
        init(_ server: TestServer, kind: DeviceKind) {
            self.server = server
            self.kind = kind
        }

        /// "Launch": the store of this profile (the same one while it is open).
        @MainActor func launch() throws -> VouchStore {
            try VouchStore.open(profileDir: profile, serverURL: server.url, device: device(kind), secretStore: keys, presence: FakePresence(answer: true))
        }

        /// "Quit, then launch again."
        @MainActor func restart(_ store: VouchStore) throws -> VouchStore {
            store.close()
            XCTAssertFalse(VouchStore.isOpen(profileDir: profile))
            return try launch()
        }
    }

    func testOneClientPerProfileInTheProcess() async throws {
        let server = try TestServer()
        let install = Install(server, kind: .mobile)
        let a = try install.launch()
        let b = try install.launch()
        XCTAssertTrue(a === b, "the same store")
        XCTAssertTrue(a.vouch === b.vouch, "the same client")
        XCTAssertTrue(a.setup === b.setup && a.approvals === b.approvals && a.devices === b.devices)
        // The same directory spelled differently is the same profile.
        let c = try VouchStore.open(profileDir: install.profile + "/./", serverURL: server.url, device: device(), secretStore: install.keys)
        XCTAssertTrue(a === c)
        // A profile belongs to one server.
        XCTAssertThrowsError(try VouchStore.open(profileDir: install.profile, serverURL: "http://127.0.0.1:1", device: device(), secretStore: install.keys)) {
            guard case VouchError.InvalidState = $0 else { return XCTFail("\($0)") }
        }
        await a.signIn(email: alice, password: "wrong")
        XCTAssertEqual(a.signInError?.key, "error.invalid_credentials")
        await a.signIn(email: alice, password: password)
        XCTAssertNil(a.signInError)
        guard case .untrusted = a.state else { return XCTFail("\(a.state)") }
        let d = try install.restart(a)
        XCTAssertFalse(a === d, "a new store after close")
        guard case .untrusted = d.state else { return XCTFail("\(d.state)") }
        d.close()
        // Opened off the main thread: concurrent loads share one opening and one client.
        async let e = VouchStore.load(profileDir: install.profile, serverURL: server.url, device: device(), secretStore: install.keys)
        async let f = VouchStore.load(profileDir: install.profile, serverURL: server.url, device: device(), secretStore: install.keys)
        let (loaded, again) = try await (e, f)
        XCTAssertTrue(loaded === again)
        XCTAssertTrue(loaded === (try install.launch()), "open finds the loaded store")
        guard case .untrusted = loaded.state else { return XCTFail("\(loaded.state)") }
        do {
            _ = try await VouchStore.load(profileDir: install.profile, serverURL: "http://127.0.0.1:1", device: device(), secretStore: install.keys)
            XCTFail("another server was accepted")
        } catch VouchError.InvalidState {}
        loaded.close()
    }

    func testEverySavedStateResumesOnItsScreenAfterARestart() async throws {
        let server = try TestServer()
        let install = Install(server, kind: .web)
        // Signed out.
        var store = try install.launch()
        XCTAssertEqual(store.state, .signedOut)
        XCTAssertEqual(store.setup.screen, .start)
        // Signed in, setup not started: "Strengthen your account security".
        await store.signIn(email: alice, password: password)
        store = try install.restart(store)
        XCTAssertEqual(store.setup.screen, .start)
        // "Remind me later": the not-secure banner, after a restart too.
        await store.setup.remindMeLater()
        XCTAssertEqual(store.setup.screen, .notSecure)
        store = try install.restart(store)
        guard case .untrusted(_, true) = store.state else { return XCTFail("\(store.state)") }
        XCTAssertEqual(store.setup.screen, .notSecure)
        // Named, nothing started: "Verify your identity".
        store.setup.start()
        guard case let .nameDevice(suggested, nil) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        XCTAssertEqual(suggested, try store.vouch.defaultDeviceName())
        _ = try await store.vouch.registerDevice(name: "Desk")
        store = try install.restart(store)
        XCTAssertEqual(store.setup.screen, .verifyIdentity(deviceName: "Desk"))
        // Waiting for an email code: "Verify your device" with the same expiry.
        await store.setup.noAccessToTrustedDevice()
        guard case let .verifyCode(before) = store.setup.screen, before.expiresAt != nil else { return XCTFail("\(store.setup.screen)") }
        store = try install.restart(store)
        guard case let .verifyCode(after) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        XCTAssertEqual(after.expiresAt, before.expiresAt)
        XCTAssertEqual(after.resendAfter, before.resendAfter)
        // The first key holder (web, by email): trusted, and the event loop runs.
        await store.setup.submitCode(try await server.latestCode(alice))
        XCTAssertEqual(store.setup.screen, .trusted)
        store = try install.restart(store)
        XCTAssertEqual(store.setup.screen, .trusted)
        XCTAssertEqual(store.state.tier, .keyHolder)
        XCTAssertTrue(store.eventsRunning)
        XCTAssertNil(store.devices.disableNotAllowed, "a key-holder web device may disable devices")
        // Disabled from elsewhere (here: itself, as from another web device): wiped, and a
        // restart still says so.
        let id = try XCTUnwrap(store.state.deviceId)
        let states = store.states
        let disabledItself = await store.devices.disable(id, alsoApproved: false)
        XCTAssertTrue(disabledItself)
        _ = try await first(states) { $0 == .wiped }
        XCTAssertEqual(store.setup.screen, .failed(UserMessage(key: "error.device_wiped")))
        store = try install.restart(store)
        XCTAssertEqual(store.state, .wiped)
        XCTAssertEqual(store.setup.screen, .failed(UserMessage(key: "error.device_wiped")))
        XCTAssertFalse(store.eventsRunning)
        store.close()
    }

    func testAWaitForApprovalAndAKeyRequestResumeAfterARestart() async throws {
        let server = try TestServer()
        let phone = Install(server, kind: .mobile)
        let approver = try phone.launch()
        await approver.signIn(email: alice, password: password)
        approver.setup.start()
        await approver.setup.submitName("Phone", byEmail: true)
        await approver.setup.submitCode(try await server.latestCode(alice))
        XCTAssertEqual(approver.setup.screen, .trusted)
        XCTAssertEqual(approver.devices.disableNotAllowed?.key, "devices.disable_needs_web", "a phone views and approves")

        // A laptop waits for approval; the app is quit and launched again: same code, waits again.
        let laptop = Install(server, kind: .web)
        var store = try laptop.launch()
        await store.signIn(email: alice, password: password)
        store.setup.start()
        await store.setup.submitName("Laptop", byEmail: false)
        guard case let .waitingForApproval(code, qr, 3, .enroll, false) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        store = try laptop.restart(store)
        guard case .waitingForApproval(code, qr, 3, .enroll, false) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        let requestId = try XCTUnwrap(try store.vouch.approvalPrompt()?.requestId)
        await approver.approvals.refresh()
        XCTAssertNil(approver.approvals.listError)
        await approver.approvals.open(requestId: requestId)
        await approver.approvals.approve(code: code)
        XCTAssertEqual(approver.approvals.selected?.approved, true, "\(String(describing: approver.approvals.selected?.error))")
        let resumed = store.setup
        try await eventually("trusted after the restart") { resumed.screen == .trusted }
        store.close()

        // An email-only device ("I don't have access"): its screen offers the keys; asks;
        // quit while waiting; launched again it waits again, and the approval makes it a
        // key holder.
        let tablet = Install(server, kind: .mobile)
        store = try tablet.launch()
        await store.signIn(email: alice, password: password)
        store.setup.start()
        await store.setup.submitName("Tablet", byEmail: true)
        await store.setup.submitCode(try await server.latestCode(alice))
        XCTAssertEqual(store.setup.screen, .emailOnly(error: nil))
        store = try tablet.restart(store)
        XCTAssertEqual(store.setup.screen, .emailOnly(error: nil))
        XCTAssertEqual(store.devices.disableNotAllowed?.key, "devices.disable_needs_key_holder")
        // It cannot list requests either: the reason is on screen, not dropped.
        await store.approvals.refresh()
        XCTAssertEqual(store.approvals.listError?.key, "error.key_holder_required")
        XCTAssertEqual(store.approvals.requests, [])
        await store.setup.askForKeys()
        guard case let .waitingForApproval(keysCode, _, 3, .shareKeys, false) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        store = try tablet.restart(store)
        guard case .waitingForApproval(keysCode, _, 3, .shareKeys, false) = store.setup.screen else { return XCTFail("\(store.setup.screen)") }
        let keysRequest = try XCTUnwrap(try store.vouch.approvalPrompt()?.requestId)
        await approver.approvals.open(requestId: keysRequest)
        XCTAssertEqual(approver.approvals.selected?.emailOnly, true)
        let screen = try XCTUnwrap(approver.approvals.selected)
        XCTAssertEqual(screen.request.account, alice)
        XCTAssertFalse(screen.anotherPersonsAccount)
        XCTAssertEqual(screen.warning, Vouch.approverWarning())
        // An admin's new_root screen names the other person's account, in its own words.
        var other = screen.request
        other.purpose = .newRoot
        let newRoot = TrustThisSession(request: other)
        XCTAssertTrue(newRoot.anotherPersonsAccount)
        XCTAssertEqual(newRoot.warning, Vouch.newRootWarning())
        XCTAssertTrue(newRoot.warning.contains("another person"))
        await approver.approvals.approve(code: keysCode)
        XCTAssertEqual(approver.approvals.selected?.approved, true, "\(String(describing: approver.approvals.selected?.error))")
        let waiting = store.setup
        do {
            try await eventually("key holder after the restart", timeout: 10) { waiting.screen == .trusted }
        } catch {
            XCTFail("screen \(waiting.screen), state \(store.state)")
            throw error
        }
        XCTAssertEqual(store.vouch.state.tier, .keyHolder)
        let tabletStore = store
        try await eventually("the store's state follows") { tabletStore.state.tier == .keyHolder }
        store.close()
        approver.close()
    }

    func testADeniedDeviceSaysSoAfterARestart() async throws {
        let server = try TestServer()
        let phone = try openVouch(server)
        try await enrollByEmail(phone, server)
        let laptop = Install(server, kind: .web)
        var store = try laptop.launch()
        await store.signIn(email: alice, password: password)
        store.setup.start()
        await store.setup.submitName("Laptop", byEmail: false)
        let requestId = try XCTUnwrap(try store.vouch.approvalPrompt()?.requestId)
        _ = try await phone.refreshPendingRequests()
        try await phone.deny(requestId: requestId)
        let setup = store.setup
        try await eventually("denied") { setup.screen == .failed(UserMessage(key: "setup.denied")) }
        store = try laptop.restart(store)
        XCTAssertEqual(store.setup.screen, .failed(UserMessage(key: "setup.denied")))
        store.close()
    }

    func testTheDeviceLimitIsExplainedAndADeviceIsDisabledFromTheWebDevice() async throws {
        let server = try TestServer(["--device-limit", "3"])
        // A web key holder (first, by email), a phone it approved, a desk by email only.
        let laptop = try openVouch(server, kind: .web)
        try await enrollByEmail(laptop, server)
        let phone = try openVouch(server)
        let prompt = try await openRequest(phone, name: "Phone")
        let waiter = Waiter(phone)
        _ = try await laptop.refreshPendingRequests()
        try await laptop.approve(requestId: prompt.requestId, code: prompt.code)
        let phoneState = try await waiter.value()
        XCTAssertEqual(phoneState.tier, .keyHolder)
        let desk = try openVouch(server, kind: .web)
        _ = try await desk.signIn(email: alice, password: password)
        _ = try await desk.registerDevice(name: "Desk")
        _ = try await desk.requestEmailCode()
        _ = try await desk.submitEmailCode(try await server.latestCode(alice))
        XCTAssertEqual(desk.state.tier, .emailOnly)

        // The fourth device: the limit, explained, with what to do.
        let tablet = try openVouch(server)
        _ = try await tablet.signIn(email: alice, password: password)
        let setup = SetupViewModel(vouch: tablet)
        setup.start()
        await setup.submitName("Tablet", byEmail: true)
        XCTAssertEqual(setup.screen, .deviceLimit(name: "Tablet"))
        XCTAssertTrue(UserMessage(key: "setup.device_limit").text.contains("web device"))

        // Neither the phone (a key holder, but not web) nor the desk (web, email only) may
        // disable; each says why and sends nothing.
        let deskId = try XCTUnwrap(desk.state.deviceId)
        for (v, reason) in [(phone, "devices.disable_needs_web"), (desk, "devices.disable_needs_key_holder")] {
            let vm = DevicesViewModel(vouch: v)
            XCTAssertEqual(vm.disableNotAllowed?.key, reason)
            let done = await vm.disable(deskId, alsoApproved: false)
            XCTAssertFalse(done)
            XCTAssertEqual(vm.error?.key, reason)
        }
        // The web key holder lists them (who approved whom) and disables the desk.
        let devices = DevicesViewModel(vouch: laptop)
        await devices.refresh()
        XCTAssertNil(devices.error)
        XCTAssertEqual(devices.devices.count, 3, "the tablet was refused: not registered")
        let laptopId = try XCTUnwrap(devices.thisDeviceId)
        let phoneId = try XCTUnwrap(phone.state.deviceId)
        XCTAssertEqual(devices.approvedRecently(by: laptopId).map(\.id), [phoneId])
        XCTAssertEqual(devices.approvedRecently(by: laptopId, now: Date().addingTimeInterval(31 * 24 * 3600)).count, 0)
        XCTAssertNil(devices.disableNotAllowed)
        let disabled = await devices.disable(deskId, alsoApproved: false)
        XCTAssertTrue(disabled)
        XCTAssertEqual(devices.lastDisabled, [deskId])
        XCTAssertNotEqual(devices.devices.first { $0.id == deskId }?.status, .trusted)
        // A place is free: the tablet goes on.
        await setup.submitName("Tablet", byEmail: true)
        guard case let .verifyCode(v) = setup.screen, v.error == nil else { return XCTFail("\(setup.screen)") }
        // A device that is gone: the server's refusal is shown, not dropped.
        let again = await devices.disable("00000000-0000-0000-0000-000000000000", alsoApproved: false)
        XCTAssertFalse(again)
        XCTAssertNotNil(devices.error)
    }
}
