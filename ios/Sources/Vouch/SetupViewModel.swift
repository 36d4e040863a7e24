import Foundation
import VouchFFI

/// The screens of trusted-session setup (mirrors Kotlin `SetupScreen`).
public enum SetupScreen: Equatable {
    case start
    case notSecure
    case nameDevice(suggested: String, error: String?)
    case verifyCode(error: String?, attemptsLeft: UInt32?)
    case waitingForApproval(number: String, phrase: String, qrPayload: String)
    case trusted
    case failed(String)
}

/// View model of the setup flow (mirrors Kotlin `SetupViewModel` one to one).
@MainActor
public final class SetupViewModel: ObservableObject {
    @Published public private(set) var screen: SetupScreen = .start
    private let vouch: Vouch
    private var waiting: Task<Void, Never>?

    public init(vouch: Vouch) {
        self.vouch = vouch
    }

    public func start() {
        screen = .nameDevice(suggested: (try? vouch.defaultDeviceName()) ?? "", error: nil)
    }

    public func remindMeLater() async {
        _ = try? await vouch.remindMeLater()
        screen = .notSecure
    }

    public func submitName(_ name: String, byEmail: Bool) async {
        do {
            _ = try await vouch.registerDevice(name: name)
        } catch {
            screen = .nameDevice(suggested: name, error: "\(error)")
            return
        }
        if byEmail { await sendCode() } else { await askForApproval() }
    }

    public func noAccessToTrustedDevice() async {
        waiting?.cancel()
        await sendCode()
    }

    public func submitCode(_ code: String) async {
        do {
            _ = try await vouch.submitEmailCode(code)
            screen = .trusted
        } catch VouchError.WrongCode(let attemptsLeft) {
            screen = .verifyCode(error: "Wrong code", attemptsLeft: attemptsLeft)
        } catch {
            screen = .verifyCode(error: "\(error)", attemptsLeft: nil)
        }
    }

    private func sendCode() async {
        _ = try? await vouch.requestEmailCode()
        screen = .verifyCode(error: nil, attemptsLeft: nil)
    }

    private func askForApproval() async {
        guard let p = try? await vouch.startApproval() else { return }
        screen = .waitingForApproval(number: p.number, phrase: p.phrase, qrPayload: p.qrPayload)
        waiting = Task { [vouch] in
            let state = try? await vouch.waitForApproval()
            if Task.isCancelled { return }
            switch state {
            case .trusted: screen = .trusted
            case .denied: screen = .failed("This device was denied")
            case .expired: screen = .failed("The request expired")
            default: screen = .failed("Something went wrong")
            }
        }
    }
}
