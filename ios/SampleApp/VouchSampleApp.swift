import CoreImage.CIFilterBuiltins
import SwiftUI
import Vouch
import VouchFFI

/// The SwiftUI sample app: the same screens as the Compose sample. Add this folder to an
/// Xcode iOS app target that depends on the `Vouch` package.
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
    @Published var pending: [PendingRequest] = []
    lazy var setup = SetupViewModel(vouch: vouch)

    init() {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0].appendingPathComponent("vouch")
        let device = DeviceInfo(kind: .mobile, model: UIDevice.current.model, os: "iOS \(UIDevice.current.systemVersion)", app: "Vouch sample")
        vouch = try! Vouch(profileDir: dir.path, serverURL: "http://127.0.0.1:8787", device: device)
        state = vouch.state
        Task { for await s in vouch.states { self.state = s } }
        Task { for await p in vouch.pendingRequests { self.pending = p } }
    }
}

struct RootView: View {
    @EnvironmentObject var model: AppModel
    var body: some View {
        switch model.state {
        case .signedOut: SignInView()
        case .trusted: HomeView()
        default: SetupView(vm: model.setup)
        }
    }
}

struct SignInView: View {
    @EnvironmentObject var model: AppModel
    @State private var email = "alice@acme.test"
    @State private var password = ""
    var body: some View {
        Form {
            TextField("Email", text: $email)
            SecureField("Password", text: $password)
            Button("Sign in") { Task { _ = try? await model.vouch.signIn(email: email, password: password) } }
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
            case .verifyCode(let error, let attemptsLeft):
                Text("Verify your device").font(.title)
                TextField("Code", text: $code).keyboardType(.numberPad)
                if let error { Text(error).foregroundStyle(.red) }
                if let attemptsLeft { Text("\(attemptsLeft) attempt(s) left") }
                Button("Verify") { Task { await vm.submitCode(code) } }
            case .waitingForApproval(let number, let phrase, let qr):
                Text("Waiting for approval").font(.title)
                Text("On a trusted device, approve and enter:")
                Text(number).font(.system(size: 64, weight: .bold))
                Text("Both screens show: \(phrase)")
                QRImage(text: qr).frame(width: 220, height: 220)
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
    @State private var devices: [Device] = []
    var body: some View {
        List {
            ForEach(model.pending, id: \.requestId) { TrustThisSessionView(request: $0) }
            Section("My trusted devices") {
                ForEach(devices, id: \.id) { Text("\($0.name) · \(String(describing: $0.kind)) · \(String(describing: $0.status))") }
            }
            Section("Local vaults") {
                ForEach((try? model.vouch.vaults()) ?? [], id: \.id) { Text($0.hasKey ? $0.name : "\($0.name) (key not on this device)") }
            }
        }
        .task { devices = (try? await model.vouch.client.devices()) ?? [] }
        .task { try? await model.vouch.runEvents() }
        .refreshable { _ = try? await model.vouch.refreshPendingRequests() }
    }
}

struct TrustThisSessionView: View {
    @EnvironmentObject var model: AppModel
    let request: PendingRequest
    @State private var number = ""
    @State private var error: String?
    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Text("Trust this session?").font(.headline)
            Text("\(request.deviceName) (\(String(describing: request.deviceKind)), \(request.platform))")
            Text("From \(request.origin) at \(request.createdAt.formatted())")
            Text("Phrase: \(request.phrase)")
            TextField("Number shown on the new device", text: $number).keyboardType(.numberPad)
            if let error { Text(error).foregroundStyle(.red) }
            HStack {
                Button("Approve") {
                    Task {
                        do { try await model.vouch.approve(requestId: request.requestId, typedNumber: number) }
                        catch VouchError.WrongNumber { error = "The number does not match the one on the new device" }
                        catch { self.error = "\(error)" }
                    }
                }.disabled(number.count != 2)
                Button("Deny", role: .destructive) { Task { try? await model.vouch.deny(requestId: request.requestId) } }
            }
        }
    }
}
