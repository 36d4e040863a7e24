import SwiftUI
import UIKit
import VouchKit

/// The SwiftUI sample app: the seed's screens over `VouchKit`'s store and view models.
/// Add this folder to an Xcode iOS app target that depends on the `VouchKit` product of the
/// package in `ios/` (local) or of the release package (remote; docs/MOBILE.md). Its
/// Info.plist needs `NSFaceIDUsageDescription` (approving asks for Face ID, Touch ID or the
/// passcode) and `NSCameraUsageDescription` (approving by QR code scans with the camera).
/// `VouchKit` re-exports the generated types (`DeviceInfo`, `EnrollmentState`, …), so it is
/// the only Vouch import. Compiled on a Mac only (SwiftUI, UIKit, AVFoundation); the logic
/// behind every screen is in the view models, compiled and tested on Linux.
@main
struct VouchSampleApp: App {
    var body: some Scene {
        WindowGroup { LaunchView() }
    }
}

enum SampleConfig {
    /// A `vouch-server --dev` on the Mac: the simulator shares the host's loopback (a
    /// device needs the server behind TLS; plain http is refused except to loopback).
    static let serverURL = "http://127.0.0.1:8787"

    /// The one store of this process (`VouchStore.load` returns the same store while it is
    /// open: a second scene shares it), its client opened off the main thread.
    @MainActor
    static func loadStore() async throws -> VouchStore {
        let support = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let dir = support.appendingPathComponent("vouch", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let device = DeviceInfo(kind: .mobile, model: UIDevice.current.model, os: "iOS \(UIDevice.current.systemVersion)", app: "Vouch sample")
        // Keychain SecretStore; approving asks for Face ID, Touch ID or the passcode first.
        return try await VouchStore.load(profileDir: dir.path, serverURL: serverURL, device: device, presence: LocalAuthenticationPresence())
    }
}

/// Opens the store once; a failure (key store, storage) is shown with "Try again".
@MainActor
struct LaunchView: View {
    @State private var store: VouchStore?
    @State private var error: UserMessage?

    var body: some View {
        Group {
            if let store {
                RootView(store: store)
            } else if let error {
                VStack(spacing: 16) {
                    Text(error.text).multilineTextAlignment(.center)
                    Button("Try again") {
                        self.error = nil
                        Task { await open() }
                    }
                }.padding()
            } else {
                ProgressView()
            }
        }
        .task { if store == nil { await open() } }
    }

    private func open() async {
        do {
            store = try await SampleConfig.loadStore()
            error = nil
        } catch {
            self.error = UserMessage(error)
        }
    }
}

@MainActor
struct RootView: View {
    @ObservedObject var store: VouchStore
    @ObservedObject var setup: SetupViewModel

    init(store: VouchStore) {
        self.store = store
        setup = store.setup
    }

    var body: some View {
        NavigationStack {
            switch store.state {
            case .signedOut:
                SignInView(store: store)
            case .trusted:
                HomeView(store: store)
            default:
                SetupView(vm: setup)
            }
        }
    }
}

@MainActor
struct SignInView: View {
    @ObservedObject var store: VouchStore
    @State private var email = "alice@acme.test"
    @State private var password = ""
    @State private var busy = false

    var body: some View {
        Form {
            TextField("Email", text: $email)
                .textContentType(.username)
                .keyboardType(.emailAddress)
                .textInputAutocapitalization(.never)
            SecureField("Password", text: $password)
                .textContentType(.password)
            if let error = store.signInError { Text(error.text).foregroundStyle(.red) }
            Button("Sign in") {
                busy = true
                Task {
                    await store.signIn(email: email, password: password)
                    busy = false
                }
            }
            .disabled(busy || email.isEmpty || password.isEmpty)
        }
        .navigationTitle("Sign in")
    }
}
