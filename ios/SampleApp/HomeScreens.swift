import SwiftUI
import VouchKit

/// A trusted device: "Pending approval" (key holders), "My trusted devices" with last seen,
/// renaming, and disabling where the product allows it, the local vaults, and for an
/// email-only device "Ask for my vault keys". Every failure is shown where it happened.
@MainActor
struct HomeView: View {
    @ObservedObject var store: VouchStore
    @ObservedObject var setup: SetupViewModel
    @ObservedObject var approvals: ApprovalViewModel
    @ObservedObject var devices: DevicesViewModel
    @ObservedObject var console: ConsoleViewModel
    @State private var vaults: [VaultInfo] = []
    @State private var vaultsError: UserMessage?
    @State private var toDisable: Device?
    @State private var toRename: Device?
    @State private var newName = ""

    init(store: VouchStore) {
        self.store = store
        setup = store.setup
        approvals = store.approvals
        devices = store.devices
        console = store.console
    }

    private var emailOnly: Bool {
        if case let .trusted(_, _, _, _, tier) = store.state { return tier == .emailOnly }
        return false
    }

    var body: some View {
        // "Trust this session?" is a screen of its own, reached from a request's details only.
        if let selected = approvals.selected {
            TrustThisSessionView(session: selected, vm: approvals)
        } else if let selected = console.selected {
            // So is "Approve a web console sign-in?".
            ApproveConsoleView(approval: selected, vm: console)
        } else {
            List {
                if let error = store.eventsError {
                    Section {
                        Text(error.text).foregroundStyle(.red)
                        Button("Retry") { store.restartEvents() }
                    }
                }
                if emailOnly {
                    Section("Verified by email only") {
                        if case .waitingForApproval = setup.screen {
                            WaitingForApprovalView(vm: setup)
                        } else {
                            let error: UserMessage? = {
                                if case let .emailOnly(error) = setup.screen { return error }
                                if case let .failed(message) = setup.screen { return message }
                                return nil
                            }()
                            Text("This device holds no vault keys and cannot approve others. Ask a device that holds your keys.")
                            if let error { Text(error.text).foregroundStyle(.red) }
                            Button("Ask for my vault keys") { Task { await setup.askForKeys() } }
                        }
                    }
                } else {
                    Section("Pending approval") {
                        if let error = approvals.listError { Text(error.text).foregroundStyle(.red) }
                        if approvals.requests.isEmpty { Text("No device is waiting.").foregroundStyle(.secondary) }
                        ForEach(approvals.requests, id: \.requestId) { request in
                            Button {
                                Task { await approvals.open(requestId: request.requestId) }
                            } label: {
                                VStack(alignment: .leading) {
                                    Text(request.deviceName).font(.headline)
                                    Text("\(String(describing: request.deviceKind)) · \(request.platform) · from \(request.origin)")
                                        .font(.caption)
                                }
                            }
                        }
                    }
                    Section(UserMessage(key: "console.title").text) {
                        if let error = console.listError { Text(error.text).foregroundStyle(.red) }
                        if console.waiting.isEmpty { Text(UserMessage(key: "console.none_waiting").text).foregroundStyle(.secondary) }
                        ForEach(console.waiting, id: \.id) { session in
                            Button {
                                console.open(sessionId: session.id)
                            } label: {
                                VStack(alignment: .leading) {
                                    Text(session.userAgent).font(.headline)
                                    Text("from \(session.origin) at \(session.createdAt.formatted())").font(.caption)
                                }
                            }
                        }
                    }
                }
                Section {
                    if let error = devices.error { Text(error.text).foregroundStyle(.red) }
                    ForEach(devices.devices, id: \.id) { device in
                        DeviceRow(device: device, isThis: device.id == devices.thisDeviceId, approvedBy: name(of: device.approvedBy))
                            .swipeActions {
                                if devices.disableNotAllowed == nil && device.status == .trusted && device.id != devices.thisDeviceId {
                                    Button("Disable", role: .destructive) { toDisable = device }
                                }
                                if device.status == .trusted {
                                    Button("Rename") { newName = device.name; toRename = device }
                                }
                            }
                    }
                } header: {
                    Text("My trusted devices")
                } footer: {
                    // Rule 8: a phone views and approves; disabling is for a web device.
                    if let reason = devices.disableNotAllowed { Text(reason.text) }
                }
                Section("Local vaults") {
                    if let vaultsError { Text(vaultsError.text).foregroundStyle(.red) }
                    ForEach(vaults, id: \.id) { Text($0.hasKey ? $0.name : "\($0.name) (key not on this device)") }
                }
            }
            .navigationTitle("Vouch")
            .task {
                await devices.refresh()
                await approvals.refresh()
                if !emailOnly { await console.refresh() }
            }
            .task {
                loadVaults()
                for await _ in store.vouch.vaultChanges { loadVaults() }
            }
            .refreshable {
                await devices.refresh()
                await approvals.refresh()
                if !emailOnly { await console.refresh() }
            }
            .alert("Rename this device", isPresented: Binding(get: { toRename != nil }, set: { if !$0 { toRename = nil } }), presenting: toRename) { device in
                TextField("New name", text: $newName)
                Button("Save") { Task { await devices.rename(device.id, to: newName) } }
                Button("Cancel", role: .cancel) {}
            }
            .confirmationDialog("Disable this device?", isPresented: Binding(get: { toDisable != nil }, set: { if !$0 { toDisable = nil } }), presenting: toDisable) { device in
                Button("Disable \(device.name)", role: .destructive) { Task { await devices.disable(device.id, alsoApproved: false) } }
                let approved = devices.approvedRecently(by: device.id)
                if !approved.isEmpty {
                    Button("Disable it and the \(approved.count) device(s) it approved in the last 30 days", role: .destructive) {
                        Task { await devices.disable(device.id, alsoApproved: true) }
                    }
                }
            }
        }
    }

    private func name(of id: String?) -> String? {
        guard let id else { return nil }
        return devices.devices.first { $0.id == id }?.name ?? id
    }

    private func loadVaults() {
        do {
            vaults = try store.vouch.vaults()
            vaultsError = nil
        } catch {
            vaultsError = UserMessage(error)
        }
    }
}

struct DeviceRow: View {
    let device: Device
    let isThis: Bool
    let approvedBy: String?

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(isThis ? "\(device.name) (this device)" : device.name).font(.headline)
            Text("\(String(describing: device.kind)) · \(device.platform) · \(String(describing: device.status))").font(.caption)
            if device.tier == .emailOnly { Text("Verified by email only").font(.caption).foregroundStyle(.orange) }
            if let approvedBy { Text("Approved by \(approvedBy)").font(.caption).foregroundStyle(.secondary) }
            if let seen = device.lastSeenAt {
                Text("Last seen \(seen.formatted(.relative(presentation: .named)))").font(.caption).foregroundStyle(.secondary)
            } else {
                Text("Not seen yet").font(.caption).foregroundStyle(.secondary)
            }
        }
    }
}

/// "Trust this session?": the request's details, its flags, the warning, then the code the
/// person reads off the new device — or the new device's QR code through this phone's own
/// camera. Approve runs the PAKE; LocalAuthentication asks first.
@MainActor
struct TrustThisSessionView: View {
    let session: TrustThisSession
    @ObservedObject var vm: ApprovalViewModel
    @State private var code = ""
    @State private var scanning = false
    @State private var scanProblem: String?

    var body: some View {
        let request = session.request
        Form {
            Section {
                Text("Trust this session?").font(.title2)
                Text("\(request.deviceName) (\(String(describing: request.deviceKind)), \(request.platform))")
                Text("From \(request.origin) at \(request.createdAt.formatted())")
                if request.purpose == .shareKeys { Text("It asks for your vault keys.") }
                if request.purpose == .newRoot { Text("A member with no trusted device left asks to start again (no keys travel).") }
                if session.emailOnly { Text("⚠ This device was verified by email only.").foregroundStyle(.red) }
                if session.otherNetwork { Text("⚠ It asks from another network than this phone.").foregroundStyle(.red) }
            }
            if session.approved || session.approvedWaitingForDevice {
                Section {
                    Text("Approved — waiting for the device to confirm it received the keys.")
                    Button("Done") { vm.close() }
                }
            } else {
                Section {
                    Text(session.warning)
                    TextField("Code shown on the new device", text: $code)
                        .keyboardType(.numberPad)
                        .disabled(session.waitingForDevice)
                    if session.waitingForDevice { Text("Waiting for the new device…") }
                    if let error = session.error { Text(error).foregroundStyle(.red) }
                    Button("Approve") { Task { await vm.approve(code: code) } }
                        .disabled(code.filter(\.isNumber).count != 6 || session.waitingForDevice)
                    Button("Deny", role: .destructive) { Task { await vm.deny() } }
                        .disabled(session.waitingForDevice)
                    Button("Back") { vm.close() }
                }
                Section("Or scan its QR code") {
                    // Only this app's own camera fills this in, on this screen: text pasted
                    // from elsewhere is what a phisher would send.
                    Button("Scan the QR code on the new device") { scanProblem = nil; scanning = true }
                        .disabled(session.waitingForDevice)
                    if let scanProblem { Text(scanProblem).foregroundStyle(.red) }
                }
            }
        }
        .sheet(isPresented: $scanning) {
            QRScannerView(
                onScan: { text in
                    scanning = false
                    Task { await vm.approveScanned(text) }
                },
                onFailure: { problem in
                    scanning = false
                    scanProblem = problem
                })
            .ignoresSafeArea()
        }
    }
}

/// "Approve a web console sign-in?": which browser, from where and when (flagged from
/// another network), the warning, then the six digits the browser shows. Approve asks
/// LocalAuthentication first (inside the call); the browser gets no key.
@MainActor
struct ApproveConsoleView: View {
    let approval: ApproveConsole
    @ObservedObject var vm: ConsoleViewModel
    @State private var code = ""

    private func text(_ key: String) -> String { UserMessage(key: key).text }

    var body: some View {
        let session = approval.session
        Form {
            Section {
                Text(text("console.title")).font(.title2)
                Text(session.userAgent)
                Text("From \(session.origin) at \(session.createdAt.formatted())")
                if approval.otherNetwork { Text("⚠ " + text("console.other_network")).foregroundStyle(.red) }
            }
            if approval.approved || approval.ended {
                Section {
                    if approval.approved { Text(text("console.approved")) }
                    if let error = approval.error { Text(error).foregroundStyle(.red) }
                    Button("Done") { vm.close() }
                }
            } else {
                Section {
                    Text(text("console.explain"))
                    Text(approval.warning)
                    TextField(text("console.code_label"), text: $code)
                        .keyboardType(.numberPad)
                        .disabled(approval.working)
                    if let error = approval.error { Text(error).foregroundStyle(.red) }
                    Button(text("console.approve")) { Task { await vm.approve(code: code) } }
                        .disabled(code.filter(\.isNumber).count != 6 || approval.working)
                    Button(text("console.end"), role: .destructive) { Task { await vm.end(sessionId: session.id) } }
                        .disabled(approval.working)
                    Button("Back") { vm.close() }
                }
            }
        }
    }
}
