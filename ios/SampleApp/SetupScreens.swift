import CoreImage.CIFilterBuiltins
import SwiftUI
import VouchKit

/// Trusted-session setup: one view per `SetupScreen`, no logic of its own (the view model
/// decides every transition; every error arrives as a `UserMessage`).
@MainActor
struct SetupView: View {
    @ObservedObject var vm: SetupViewModel
    @State private var name = ""
    @State private var code = ""

    var body: some View {
        ScrollView {
            VStack(spacing: 16) {
                switch vm.screen {
                case .start:
                    Text("Strengthen your account security").font(.title).multilineTextAlignment(.center)
                    Text("Set up this device as a trusted session to reach your vaults.")
                    Button("Start") { vm.start() }.buttonStyle(.borderedProminent)
                    Button("Remind me later") { Task { await vm.remindMeLater() } }
                case .notSecure:
                    NotSecureBanner()
                    Button("Set up now") { vm.start() }.buttonStyle(.borderedProminent)
                case let .nameDevice(suggested, error):
                    Text("Name your device").font(.title)
                    TextField("Device name", text: $name)
                        .textFieldStyle(.roundedBorder)
                        .onAppear { name = suggested }
                        .onChange(of: suggested) { name = $0 }
                    if let error { Text(error.text).foregroundStyle(.red) }
                    Button("Verify with a trusted device") { Task { await vm.submitName(name, byEmail: false) } }
                        .buttonStyle(.borderedProminent)
                    Button("Verify by email code") { Task { await vm.submitName(name, byEmail: true) } }
                case let .deviceLimit(name):
                    Text("Too many devices").font(.title)
                    Text(UserMessage(key: "setup.device_limit").text).multilineTextAlignment(.center)
                    Button("Try again") { vm.editName(name) }.buttonStyle(.borderedProminent)
                case let .verifyIdentity(deviceName):
                    Text("Verify your identity").font(.title)
                    Text(deviceName).font(.headline)
                    Button("Verify with a trusted device") { Task { await vm.verifyWithTrustedDevice() } }
                        .buttonStyle(.borderedProminent)
                    Button("I don't have access to my trusted device") { Task { await vm.noAccessToTrustedDevice() } }
                case let .verifyCode(verify):
                    VerifyCodeView(vm: vm, verify: verify, code: $code)
                case .waitingForApproval:
                    WaitingForApprovalView(vm: vm)
                    Button("I don't have access to my trusted device") { Task { await vm.noAccessToTrustedDevice() } }
                case let .emailOnly(error):
                    EmailOnlyView(vm: vm, error: error)
                case .trusted:
                    Text("This device is trusted.").font(.title2)
                case let .failed(message):
                    Text(message.text).multilineTextAlignment(.center)
                    Button("Start again") { vm.start() }.buttonStyle(.borderedProminent)
                }
            }
            .padding()
        }
    }
}

/// "This session is not secure": no vault access until setup is done.
struct NotSecureBanner: View {
    var body: some View {
        Label("This session is not secure. Your vaults stay locked until you set up this device.", systemImage: "exclamationmark.shield")
            .padding()
            .frame(maxWidth: .infinity, alignment: .leading)
            .background(Color.orange.opacity(0.2), in: RoundedRectangle(cornerRadius: 12))
    }
}

/// "Verify your device": the code field, the expiry counted down each second, "This code
/// expired", and "Send a new code" once the throttle allows it.
@MainActor
struct VerifyCodeView: View {
    @ObservedObject var vm: SetupViewModel
    let verify: VerifyCode
    @Binding var code: String

    var body: some View {
        Text("Verify your device").font(.title)
        Text("Enter the 6-digit code we emailed you.")
        TextField("Code", text: $code)
            .keyboardType(.numberPad)
            .textContentType(.oneTimeCode)
            .textFieldStyle(.roundedBorder)
        TimelineView(.periodic(from: .now, by: 1)) { context in
            let now = context.date
            VStack(spacing: 12) {
                if let status = verify.status(at: now) {
                    Text(status.text).foregroundStyle(verify.error != nil || verify.isExpired(at: now) ? Color.red : Color.secondary)
                }
                Button("Verify") { Task { await vm.submitCode(code) } }
                    .buttonStyle(.borderedProminent)
                    .disabled(verify.isExpired(at: now))
                let wait = verify.resendIn(at: now)
                Button(wait > 0 ? UserMessage(key: "setup.resend_in", arguments: ["\(wait)"]).text : "Send a new code") {
                    code = ""
                    Task { await vm.resendCode() }
                }
                .disabled(wait > 0)
            }
        }
    }
}

/// The new device's side: the code to type on a device that holds the keys, and its QR
/// code for a phone's camera.
@MainActor
struct WaitingForApprovalView: View {
    @ObservedObject var vm: SetupViewModel

    var body: some View {
        if case let .waitingForApproval(code, qr, runsLeft, purpose, codeUsedUp) = vm.screen {
            VStack(spacing: 12) {
                Text("Waiting for approval").font(.title)
                if codeUsedUp {
                    Text(UserMessage(key: "error.code_used_up").text).foregroundStyle(.red)
                    Button("Get a new code") { Task { await vm.newCode() } }.buttonStyle(.borderedProminent)
                } else {
                    Text(purpose == .shareKeys
                        ? "On a device that holds your keys, open the request and enter this code:"
                        : "On a trusted device, open \"Trust this session?\" and enter this code:")
                    Text(code).font(.system(size: 48, weight: .bold, design: .monospaced))
                    Text("Or scan this QR code with the Vouch app on that device:")
                    QRImage(text: qr).frame(width: 220, height: 220)
                    Text("Only type it on your own device. Nobody from Vouch or your company will ask you for it.").font(.footnote)
                    Text("\(runsLeft) \(runsLeft == 1 ? "try" : "tries") left").font(.footnote)
                    if let expires = vm.approvalExpiresAt {
                        TimelineView(.periodic(from: .now, by: 1)) { context in
                            Text(UserMessage(key: "setup.approval_code_works_for", arguments: [Countdown.text(until: expires, now: context.date)]).text)
                                .font(.footnote)
                        }
                    }
                    Button("Get a new code") { Task { await vm.newCode() } }
                }
            }
        }
    }
}

/// Verified by email only: no vault keys; ask a device that holds them.
@MainActor
struct EmailOnlyView: View {
    @ObservedObject var vm: SetupViewModel
    let error: UserMessage?

    var body: some View {
        Text("Verified by email only").font(.title2)
        Text("This device holds no vault keys and cannot approve others. Ask a device that holds your keys to share them.")
            .multilineTextAlignment(.center)
        if let error { Text(error.text).foregroundStyle(.red) }
        Button("Ask for my vault keys") { Task { await vm.askForKeys() } }.buttonStyle(.borderedProminent)
    }
}

struct QRImage: View {
    let text: String
    var body: some View {
        if let image = QRImage.render(text) {
            Image(decorative: image, scale: 1).interpolation(.none).resizable()
        } else {
            Text(text).font(.caption.monospaced())
        }
    }

    static func render(_ text: String) -> CGImage? {
        let filter = CIFilter.qrCodeGenerator()
        filter.message = Data(text.utf8)
        guard let output = filter.outputImage?.transformed(by: CGAffineTransform(scaleX: 8, y: 8)) else { return nil }
        return CIContext().createCGImage(output, from: output.extent)
    }
}
