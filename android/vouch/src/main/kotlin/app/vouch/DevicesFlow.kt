package app.vouch

import app.vouch.ffi.Device
import app.vouch.ffi.DeviceStatus
import app.vouch.ffi.EnrollmentState
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/**
 * "My trusted devices": the user's devices (one call; each with its last-seen time), which
 * one is this device, who approved each, and rename and disable actions; [error] says why a disable was not allowed
 * (e.g. only a device that holds the keys may disable, or the server's refusal), in
 * words from [UserMessage] keys.
 */
data class DevicesScreen(
    val devices: List<Device> = emptyList(),
    val thisDeviceId: String? = null,
    val loading: Boolean = false,
    val error: UserMessage? = null,
    /** The ids the last disable turned off (the device and, if asked, those it approved). */
    val lastDisabled: List<String> = emptyList(),
) {
    /** Devices that count against the limit of 20 (not disabled). */
    val active: List<Device> get() = devices.filter { it.status != DeviceStatus.DISABLED }
    /** The name of the device that approved [d], when it is in the list. */
    fun approverName(d: Device): String? = d.approvedBy?.let { id -> devices.firstOrNull { it.id == id }?.name }
}

/** The "My trusted devices" state machine in plain Kotlin (the androidx view model runs it). */
class DevicesFlow(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _screen = MutableStateFlow(DevicesScreen())
    val screen: StateFlow<DevicesScreen> = _screen.asStateFlow()

    /** Loads the list (one call). */
    fun refresh(): Job = scope.launch {
        _screen.value = _screen.value.copy(loading = true)
        _screen.value = try {
            _screen.value.copy(devices = vouch.devices(), thisDeviceId = thisDevice(), loading = false, error = null)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _screen.value.copy(loading = false, error = UserMessage.of(e))
        }
    }

    /**
     * Disables [deviceId] and, with [alsoApproved], the devices it approved in the last 30
     * days (a stolen device's). Refused with a reason when this device may not (an
     * email-only device, or the server's word).
     */
    fun disable(deviceId: String, alsoApproved: Boolean): Job = scope.launch {
        _screen.value = try {
            val off = vouch.disableDevices(deviceId, alsoApproved)
            _screen.value.copy(devices = vouch.devices(), thisDeviceId = thisDevice(), error = null, lastDisabled = off)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _screen.value.copy(error = whyNot(e))
        }
    }

    /**
     * Renames [deviceId] (this device, or from a key-holder web device another of the
     * user's) and reloads the list; a refused name ([VouchError.DeviceNameTaken],
     * [VouchError.InvalidInput]) is [DevicesScreen.error].
     */
    fun rename(deviceId: String, name: String): Job = scope.launch {
        _screen.value = try {
            vouch.renameDevice(deviceId, name)
            _screen.value.copy(devices = vouch.devices(), thisDeviceId = thisDevice(), error = null)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _screen.value.copy(error = whyNot(e))
        }
    }

    /** The reason a disable was refused, in the words iOS uses too. */
    private fun whyNot(e: Exception): UserMessage = when {
        // The server's rule: devices are disabled from a web device (or by an admin).
        e is VouchError.Server && e.code == "forbidden" -> UserMessage("devices.disable_needs_web")
        e is VouchError.KeyHolderRequired -> UserMessage("devices.disable_needs_key_holder")
        e is VouchError.InvalidState -> UserMessage("devices.disable_needs_trusted")
        else -> UserMessage.of(e)
    }

    private fun thisDevice(): String? = (vouch.state.value as? EnrollmentState.Trusted)?.deviceId
}
