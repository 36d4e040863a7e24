import Foundation
import VouchFFI
#if canImport(Combine)
import Combine
#endif

/// "My trusted devices" (mirrors Kotlin `DevicesViewModel`): the user's devices with their
/// status, tier, who approved each and when each was last seen, renaming, and disabling one
/// where the product allows it.
///
/// Rule 8: devices are disabled from a key-holder **web** device of the user (or by an
/// admin's key holder); phones and extensions view, approve and deny. So `disableNotAllowed`
/// says why this device cannot, and the screen shows that reason instead of the button.
/// Rule 6: disabling a device offers to disable the devices it approved in the last 30
/// days as well (`approvedRecently(by:)`). The pending requests of the same screen come
/// from `ApprovalViewModel`.
@MainActor
public final class DevicesViewModel {
    public private(set) var devices: [Device] = [] {
        willSet { changes.willChange() }
        didSet { changes.yield(()) }
    }
    /// What the last load or disable failed with (nil after a success).
    public private(set) var error: UserMessage? {
        willSet { changes.willChange() }
        didSet { changes.yield(()) }
    }
    /// Ids the last disable took out (the device and, when asked, those it approved).
    public private(set) var lastDisabled: [String] = [] {
        willSet { changes.willChange() }
        didSet { changes.yield(()) }
    }
    /// Yields on every change.
    public var updates: AsyncStream<Void> { changes.stream(current: ()) }
    let changes = Changes<Void>()
    private let vouch: Vouch

    /// How far back "the devices it approved" reaches (rule 6; the server uses the same).
    public static let approvedRecentlyWindow: TimeInterval = 30 * 24 * 3600

    public init(vouch: Vouch) {
        self.vouch = vouch
    }

    /// This device's id, to mark it in the list ("this device").
    public var thisDeviceId: String? {
        switch vouch.state {
        case let .trusted(_, id, _, _, _), let .verifying(_, id, _, _): return id
        default: return nil
        }
    }

    /// Nil when this device may disable devices; otherwise why not (shown in place of the
    /// Disable buttons).
    public var disableNotAllowed: UserMessage? {
        guard case let .trusted(user, _, _, _, tier) = vouch.state else {
            return UserMessage(key: "devices.disable_needs_trusted")
        }
        if tier != .keyHolder { return UserMessage(key: "devices.disable_needs_key_holder") }
        if vouch.device.kind != .web && !user.isAdmin { return UserMessage(key: "devices.disable_needs_web") }
        return nil
    }

    /// Loads the list (one call; the list crosses the FFI whole).
    public func refresh() async {
        do {
            devices = try await vouch.devices()
            error = nil
        } catch {
            self.error = UserMessage(error)
        }
    }

    /// The trusted devices `deviceId` approved in the last 30 days: what "also disable the
    /// devices it approved" would take out with it.
    public func approvedRecently(by deviceId: String, now: Date = Date()) -> [Device] {
        devices.filter {
            $0.approvedBy == deviceId && $0.status == .trusted
                && now.timeIntervalSince($0.createdAt) <= Self.approvedRecentlyWindow
        }
    }

    /// Disables `deviceId` (and, with `alsoApproved`, the devices it approved in the last 30
    /// days). Refused here with the reason when this device may not (nothing is sent);
    /// returns whether it was done. The list is reloaded afterwards.
    @discardableResult
    public func disable(_ deviceId: String, alsoApproved: Bool) async -> Bool {
        if let reason = disableNotAllowed {
            error = reason
            return false
        }
        do {
            lastDisabled = try await vouch.disableDevices(deviceId, alsoApproved: alsoApproved)
            error = nil
        } catch {
            self.error = UserMessage(error)
            return false
        }
        if thisDeviceId != nil { await refresh() }
        return true
    }
}

extension DevicesViewModel {
    /// Renames `deviceId` (this device, or from a key-holder web device another of the
    /// user's) and reloads the list; a refused name (`.DeviceNameTaken`, `.InvalidInput`) is
    /// `error`. Returns whether it was done.
    @discardableResult
    public func rename(_ deviceId: String, to name: String) async -> Bool {
        do {
            _ = try await vouch.renameDevice(deviceId, name: name)
            error = nil
        } catch {
            self.error = UserMessage(error)
            return false
        }
        await refresh()
        return true
    }
}

#if canImport(Combine)
extension DevicesViewModel: ObservableObject {
    public nonisolated var objectWillChange: ObservableObjectPublisher { changes.publisher }
}
#endif
