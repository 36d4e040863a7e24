import Foundation
import VouchFFI

/// What a screen says about a failure: a stable key for `Localizable.strings`
/// (`VouchKit/Resources/<lang>.lproj`) and its English text, for every `VouchError` case
/// (issue 14: errors people can read, never uniffi's field dump). Apps show `text`, or look
/// `key` up in their own strings; arguments (attempts left, seconds) are in `arguments`.
public struct UserMessage: Equatable, Sendable {
    public let key: String
    public let arguments: [String]
    /// The localized text (English when the app has no translation).
    public var text: String {
        let format = Bundle.module.localizedString(forKey: key, value: Self.english[key] ?? key, table: nil)
        var out = format
        for (i, a) in arguments.enumerated() { out = out.replacingOccurrences(of: "{\(i)}", with: a) }
        return out
    }

    /// Every key this package can show (the keys of `Localizable.strings`).
    public static var allKeys: [String] { english.keys.sorted() }

    public init(key: String, arguments: [String] = []) {
        self.key = key
        self.arguments = arguments
    }

    /// The message for any error a Vouch call throws.
    public init(_ error: Error) {
        guard let e = error as? VouchError else {
            self.init(key: error is CancellationError ? "error.cancelled" : "error.unexpected")
            return
        }
        switch e {
        case .Offline: self.init(key: "error.offline")
        case .WrongCode(let attemptsLeft):
            if let n = attemptsLeft { self.init(key: "error.wrong_code", arguments: ["\(n)"]) } else { self.init(key: "error.wrong_code_no_count") }
        case .CodeExpired: self.init(key: "error.code_expired")
        case .CodeLocked: self.init(key: "error.code_locked")
        case .TooManyRequests(let secs):
            if let s = secs { self.init(key: "error.too_many_requests", arguments: ["\(s)"]) } else { self.init(key: "error.too_many_requests_no_time") }
        case .DeviceLimitReached: self.init(key: "error.device_limit_reached")
        case .DeviceNameTaken: self.init(key: "error.device_name_taken")
        case .InvalidCredentials: self.init(key: "error.invalid_credentials")
        case .CodeMismatch: self.init(key: "error.code_mismatch")
        case .NoAnswer: self.init(key: "error.no_answer")
        case .CodeUsedUp: self.init(key: "error.code_used_up")
        case .UserPresenceRequired: self.init(key: "error.user_presence_required")
        case .ApprovalFailed: self.init(key: "error.approval_failed")
        case .InvalidQrCode: self.init(key: "error.invalid_qr_code")
        case .KeyHolderRequired: self.init(key: "error.key_holder_required")
        case .KeyConflict: self.init(key: "error.key_conflict")
        case .ChainRefused: self.init(key: "error.chain_refused")
        case .InvalidRecoveryWords(let problem):
            switch problem {
            case .unknownWord(let position): self.init(key: "error.recovery_word_unknown", arguments: ["\(position)"])
            case .wrongCount(let count): self.init(key: "error.recovery_words_count", arguments: ["\(count)"])
            case .checksum: self.init(key: "error.recovery_words_checksum")
            }
        case .RecoveryKeyNotOnChain: self.init(key: "error.recovery_key_not_on_chain")
        case .AlreadyDecided: self.init(key: "error.already_decided")
        case .RequestExpired: self.init(key: "error.request_expired")
        case .DeviceWiped: self.init(key: "error.device_wiped")
        case .DeviceDisabled: self.init(key: "error.device_disabled")
        case .InvalidState: self.init(key: "error.invalid_state")
        case .UntrustedCertificate: self.init(key: "error.untrusted_certificate")
        case .CertificatePinMismatch: self.init(key: "error.certificate_pin_mismatch")
        case .InsecureTransport: self.init(key: "error.insecure_transport")
        case .ServerFailed: self.init(key: "error.server_failed")
        case .InvalidInput: self.init(key: "error.invalid_input")
        case .Server: self.init(key: "error.server")
        case .KeyStore: self.init(key: "error.key_store")
        case .Storage: self.init(key: "error.storage")
        case .Internal: self.init(key: "error.internal")
        }
    }

    /// English, also the fallback when a key is missing from `Localizable.strings`. Every key
    /// here is in `Resources/en.lproj/Localizable.strings` with the same text (a test checks
    /// both ways), so translators work from the strings file.
    static let english: [String: String] = [
        "error.offline": "You are offline.",
        "error.wrong_code": "Wrong code. {0} attempt(s) left.",
        "error.wrong_code_no_count": "Wrong code.",
        "error.code_expired": "This code expired. Ask for a new one.",
        "error.code_locked": "Too many wrong codes. Code verification is locked for your account; contact your admin.",
        "error.too_many_requests": "Too many tries. Try again in {0} s.",
        "error.too_many_requests_no_time": "Too many tries. Try again later.",
        "error.device_limit_reached": "You have the maximum number of devices. Disable one from a web device first.",
        "error.device_name_taken": "Another of your devices already has this name.",
        "error.invalid_credentials": "Wrong email or password.",
        "error.code_mismatch": "The code does not match the one on the new device. Check it and try again.",
        "error.no_answer": "The new device did not answer. Is it still showing the code?",
        "error.code_used_up": "This code can no longer be used. Ask for a new code on the new device.",
        "error.user_presence_required": "Approving needs Face ID, Touch ID or your passcode.",
        "error.approval_failed": "The approval could not be completed on this device; start again.",
        "error.invalid_qr_code": "This QR code does not belong to this request.",
        "error.key_holder_required": "Only a device that holds your vault keys can do this.",
        "error.key_conflict": "A different key for a vault this device already holds was refused.",
        "error.chain_refused": "The list of your devices that hold the keys did not check out. Nothing was shared; try again later or contact your admin.",
        "error.recovery_word_unknown": "Word {0} is not a word of the recovery key. Check its spelling.",
        "error.recovery_words_count": "A recovery key has 24 words; you entered {0}.",
        "error.recovery_words_checksum": "A word is mistyped or two are swapped. Check each word against what you wrote down.",
        "error.recovery_key_not_on_chain": "This recovery key is not one of yours any more (it was replaced or revoked).",
        "error.already_decided": "This request was already decided.",
        "error.request_expired": "This request expired.",
        "error.device_wiped": "This device was disabled and its data removed.",
        "error.device_disabled": "This device was disabled. Its vaults are kept locked on it until one of your trusted devices confirms the removal (then they are erased) or the device is allowed again.",
        "error.invalid_state": "This is not possible right now.",
        "error.untrusted_certificate": "The server's certificate is not trusted.",
        "error.certificate_pin_mismatch": "The server's certificate does not match the pinned key. The connection may be intercepted.",
        "error.insecure_transport": "The server address must start with https://.",
        "error.server_failed": "The server is having trouble. Try again in a moment.",
        "error.invalid_input": "Check what you entered.",
        "error.server": "The server refused the request.",
        "error.key_store": "The device's key store could not be used.",
        "error.storage": "The local data could not be read or written.",
        "error.internal": "Something went wrong.",
        "error.cancelled": "Cancelled.",
        "error.unexpected": "Something went wrong.",
        "error.profile_open_elsewhere": "This profile is already open with another server.",
        "approval.code_is_six_digits": "The code is six digits.",
        "console.title": "Approve a web console sign-in",
        "console.none_waiting": "No browser is waiting. Sign in at your server's /console first.",
        "console.explain": "Enter the 6-digit code the browser shows. The console can see and rename your devices and disable those verified by email only (never your key holders); it receives no vault key.",
        "console.other_network": "This browser signed in from another network than this device. Approve only a browser you are using now.",
        "console.code_label": "Code shown in the browser",
        "console.approve": "Approve",
        "console.end": "End this sign-in",
        "console.approved": "Approved: the browser moves on within a few seconds (if it does not within a minute, sign in there again).",
        "console.sign_in_ended": "That sign-in ended (too many wrong codes or too late). Sign in again in the browser.",
        "setup.denied": "This device was denied. Start again to ask once more, or verify by email.",
        "setup.expired": "The request expired. Start again.",
        "setup.not_approved": "The request was not approved. You can ask again.",
        "setup.cancelled": "The request was cancelled. Start again.",
        "setup.start_again": "Something went wrong. Start again.",
        "setup.code_expires_in": "The code expires in {0}.",
        "setup.resend_in": "You can ask for a new code in {0} s.",
        "setup.approval_code_works_for": "This code works for {0}.",
        "setup.device_limit": "You already have the most devices your account allows. Disable one you no longer use from a web device that holds your keys (Vouch in a browser, My trusted devices), then try again.",
        "devices.disable_needs_trusted": "Devices can be disabled only from a trusted device.",
        "devices.disable_needs_key_holder": "Only a device that holds your vault keys can disable devices. This device was verified by email only.",
        "devices.disable_needs_web": "Devices are disabled from a web device that holds your keys (Vouch in a browser). On this device you can see them and approve or deny new ones.",
    ]
}
