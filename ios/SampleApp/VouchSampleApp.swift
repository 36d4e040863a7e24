import CoreImage.CIFilterBuiltins
import SwiftUI
import VouchKit

/// The SwiftUI sample app: the same screens as the Compose sample. Add this folder to an
/// Xcode iOS app target that depends on the `VouchKit` product of the package in `ios/`
/// (its Info.plist needs `NSFaceIDUsageDescription`: approving asks for Face ID, Touch ID
/// or the passcode). `VouchKit` re-exports the generated types (`DeviceInfo`,
/// `EnrollmentState`, …), so it is the only import. Not compiled in CI (SwiftUI, UIKit).
@main
struct VouchSampleApp: App {
    @StateObject private var model = AppModel()
    var body: some Scene {
        WindowGroup { RootView().environmentObject(model) }
    }
}

@MainActor
final class AppModel: ObservableObject {
    let vouch: Vouch
    @Published var state: EnrollmentState
    let setup: SetupViewModel
    let approvals: ApprovalViewModel

    init() {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0].appendingPathComponent("vouch")
        let device = DeviceInfo(kind: .mobile, model: UIDevice.current.model, os: "iOS \(UIDevice.current.systemVersion)", app: "Vouch sample")
        // Approve asks for Face ID, Touch ID or the passcode first.
        vouch = try! Vouch(profileDir: dir.path, serverURL: "http://127.0.0.1:8787", device: device, presence: LocalAuthenticationPresence())
        state = vouch.state
        setup = SetupViewModel(vouch: vouch)
        approvals = ApprovalViewModel(vouch: vouch)
        // A request still open (the app was closed while it waited) is shown again.
        setup.resume()
        Task { for await s in vouch.states { self.state = s } }
    }
}

struct RootView: View {
    @EnvironmentObject var model: AppModel
    var body: some View {
        switch model.state {
        case .signedOut: SignInView()
        case .trusted: HomeView(app: model)
        default: SetupView(vm: model.setup)
        }
    }
}

struct SignInView: View {
    @EnvironmentObject var model: AppModel
    @State private var email = "alice@acme.test"
    @State private var password = ""
    @State private var error: String?
    var body: some View {
        Form {
            TextField("Email", text: $email)
            SecureField("Password", text: $password)
            if let error { Text(error).foregroundStyle(.red) }
            Button("Sign in") {
                Task {
                    do {
                        _ = try await model.vouch.signIn(email: email, password: password)
                        error = nil
                    } catch {
                        self.error = UserMessage(error).text
                    }
                }
            }
        }
    }
}

struct SetupView: View {
    @ObservedObject var vm: SetupViewModel
    @State private var name = ""
    @State private var code = ""
    var body: some View {
        VStack(spacing: 16) {
            switch vm.screen {
            case .start:
                Text("Strengthen your account security").font(.title)
                Button("Start") { vm.start() }
                Button("Remind me later") { Task { await vm.remindMeLater() } }
            case .notSecure:
                Text("This session is not secure").font(.title2)
                Button("Set up now") { vm.start() }
            case .nameDevice(let suggested, let error):
                Text("Name your device").font(.title)
                TextField("Device name", text: $name).onAppear { name = suggested }
                if let error { Text(error).foregroundStyle(.red) }
                Button("Verify with a trusted device") { Task { await vm.submitName(name, byEmail: false) } }
                Button("Verify by email code") { Task { await vm.submitName(name, byEmail: true) } }
            case .verifyIdentity(let deviceName):
                Text("Verify your identity").font(.title)
                Text(deviceName)
                Button("Verify with a trusted device") { Task { await vm.verifyWithTrustedDevice() } }
                Button("I don't have access to my trusted device") { Task { await vm.noAccessToTrustedDevice() } }
            case .verifyCode(let error, let attemptsLeft):
                Text("Verify your device").font(.title)
                TextField("Code", text: $code).keyboardType(.numberPad)
                if let error { Text(error).foregroundStyle(.red) }
                if let attemptsLeft { Text("\(attemptsLeft) attempt(s) left") }
                Button("Verify") { Task { await vm.submitCode(code) } }
            case .waitingForApproval:
                WaitingForApprovalView(vm: vm)
                Button("I don't have access to my trusted device") { Task { await vm.noAccessToTrustedDevice() } }
            case .trusted:
                Text("This device is trusted.")
            case .failed(let message):
                Text(message)
                Button("Try again") { vm.start() }
            }
        }.padding()
    }
}

/// The new device's side: the code to type on a device that holds the keys, and its QR.
struct WaitingForApprovalView: View {
    @ObservedObject var vm: SetupViewModel
    var body: some View {
        if case let .waitingForApproval(code, qr, runsLeft, purpose, codeUsedUp) = vm.screen {
            VStack(spacing: 12) {
                Text("Waiting for approval").font(.title)
                if codeUsedUp {
                    Text("This code can no longer be used.").foregroundStyle(.red)
                    Button("Get a new code") { Task { await vm.newCode() } }
                } else {
                    Text(purpose == .shareKeys
                        ? "On a device that holds your keys, open the request and enter this code:"
                        : "On a trusted device, open \"Trust this session?\" and enter this code:")
                    Text(code).font(.system(size: 56, weight: .bold, design: .monospaced))
                    Text("Or scan this QR code with the Vouch app:")
                    QRImage(text: qr).frame(width: 220, height: 220)
                    Text("Only type it on your own device. Nobody from Vouch or your company will ask you for it.").font(.footnote)
                    Text("\(runsLeft) \(runsLeft == 1 ? "try" : "tries") left").font(.footnote)
                    Button("Get a new code") { Task { await vm.newCode() } }
                }
            }
        }
    }
}

struct QRImage: View {
    let text: String
    var body: some View {
        let filter = CIFilter.qrCodeGenerator()
        filter.message = Data(text.utf8)
        let output = filter.outputImage?.transformed(by: CGAffineTransform(scaleX: 8, y: 8))
        if let output, let cg = CIContext().createCGImage(output, from: output.extent) {
            return AnyView(Image(decorative: cg, scale: 1).interpolation(.none).resizable())
        }
        return AnyView(EmptyView())
    }
}

struct HomeView: View {
    @EnvironmentObject var model: AppModel
    @ObservedObject var approvals: ApprovalViewModel
    @ObservedObject var setup: SetupViewModel
    @State private var devices: [Device] = []

    init(app: AppModel) {
        _approvals = ObservedObject(wrappedValue: app.approvals)
        _setup = ObservedObject(wrappedValue: app.setup)
    }

    private var emailOnly: Bool {
        if case let .trusted(_, _, _, _, tier) = model.state { return tier == .emailOnly }
        return false
    }

    var body: some View {
        // "Trust this session?" is a screen of its own, reached from a request's details only.
        if let selected = approvals.selected {
            TrustThisSessionView(session: selected, vm: approvals)
        } else {
            List {
                if emailOnly {
                    Section("Verified by email only") {
                        Text("This device holds no vault keys and cannot approve others. Ask a device that holds your keys.")
                        if case .waitingForApproval = setup.screen {
                            WaitingForApprovalView(vm: setup)
                        } else {
                            if case let .failed(message) = setup.screen { Text(message).foregroundStyle(.red) }
                            Button("Ask for my vault keys") { Task { await setup.askForKeys() } }
                        }
                    }
                } else {
                    Section("Trust this session?") {
                        ForEach(approvals.requests, id: \.requestId) { request in
                            VStack(alignment: .leading) {
                                Text(request.deviceName).font(.headline)
                                Text("\(String(describing: request.deviceKind)) · \(request.platform) · from \(request.origin)")
                                Button("Review") { Task { await approvals.open(requestId: request.requestId) } }
                            }
                        }
                    }
                }
                Section("My trusted devices") {
                    ForEach(devices, id: \.id) { Text("\($0.name) · \(String(describing: $0.kind)) · \(String(describing: $0.status))") }
                }
                Section("Local vaults") {
                    ForEach((try? model.vouch.vaults()) ?? [], id: \.id) { Text($0.hasKey ? $0.name : "\($0.name) (key not on this device)") }
                }
            }
            .task { devices = (try? await model.vouch.devices()) ?? [] }
            .task { try? await model.vouch.runEvents() }
            .refreshable { await approvals.refresh() }
        }
    }
}

/// "Trust this session?": the request's details, its flags, the warning, then the code the
/// person reads off the new device. Approve runs the PAKE; on this phone LocalAuthentication
/// asks first.
struct TrustThisSessionView: View {
    let session: TrustThisSession
    @ObservedObject var vm: ApprovalViewModel
    @State private var code = ""
    @State private var scanned = ""

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
                Section("Scan instead") {
                    // This app's own camera scanner (AVFoundation) would fill this field on
                    // this screen; text pasted from elsewhere is what a phisher would send.
                    TextField("Scanned QR code", text: $scanned)
                    Button("Approve by QR code") { Task { await vm.approveScanned(scanned) } }
                        .disabled(!scanned.hasPrefix("VOUCH2:") || session.waitingForDevice)
                }
            }
        }
    }
}
