package app.vouch

import app.vouch.ffi.ApprovalPrompt
import app.vouch.ffi.Device
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.SecretStore
import app.vouch.ffi.TlsPolicy
import app.vouch.ffi.UserPresence
import app.vouch.ffi.VaultInfo
import app.vouch.ffi.VouchClient
import app.vouch.ffi.VouchListener
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext

/**
 * The Kotlin face of Vouch: the generated [VouchClient] plus flows fed by its listener.
 *
 * Thin on purpose: every call is the generated `suspend` function; errors are the
 * generated sealed `VouchException` hierarchy (`VouchException.WrongCode` for an email
 * code, `VouchException.CodeMismatch` / `NoAnswer` / `CodeUsedUp` /
 * `UserPresenceRequired` for an approval, `VouchException.KeyHolderRequired`,
 * `VouchException.Offline`, …). No Android imports, so it runs (and is tested) on the
 * plain JVM.
 *
 * An approval (Trust v2) is a PAKE run between two devices at once: the new device shows
 * [ApprovalPrompt.code] and must be in [waitForApproval] (it answers the run) while the
 * person types that code into [approve] on a device that holds the keys.
 */
class Vouch private constructor(
    /** The generated client, for calls the facade does not wrap. */
    val client: VouchClient,
    private val listener: FlowListener,
) : AutoCloseable {
    /** The enrollment state, updated by the core on every transition. */
    val state: StateFlow<EnrollmentState> = listener.state.asStateFlow()

    /** "Trust this session?" requests waiting on this device (approvers). */
    val pendingRequests: StateFlow<List<PendingRequest>> = listener.pending.asStateFlow()

    /** Emits whenever vaults or items changed (sync, new keys, remote edits). */
    val vaultChanges: SharedFlow<Unit> = listener.vaults.asSharedFlow()

    companion object {
        /**
         * Opens the profile in [profileDir]; no network. [tls] optionally pins the
         * server's key (`sha256/…`) or adds a private CA; a refused certificate is
         * `VouchException.CertificatePinMismatch` / `UntrustedCertificate`, never `Offline`.
         * [presence] is the OS's user-presence check a phone runs before it approves
         * (`app.vouch.android.BiometricPresence` on Android): a `MOBILE` device without
         * one, or whose check returns false, gets `VouchException.UserPresenceRequired`
         * from [approve] and sends nothing.
         */
        fun open(
            profileDir: String,
            serverUrl: String,
            device: DeviceInfo,
            secretStore: SecretStore,
            tls: TlsPolicy? = null,
            presence: UserPresence? = null,
        ): Vouch {
            val listener = FlowListener()
            val client = VouchClient(profileDir, serverUrl, device, secretStore, listener, tls, presence)
            listener.state.value = client.state()
            return Vouch(client, listener)
        }

        /** The words the "Trust this session?" screen shows above the code field. */
        fun approverWarning(): String = app.vouch.ffi.approverWarning()
    }

    suspend fun signIn(email: String, password: String): EnrollmentState = client.signIn(email, password)
    suspend fun remindMeLater(): EnrollmentState = client.remindMeLater()
    fun defaultDeviceName(): String = client.defaultDeviceName()
    suspend fun registerDevice(name: String): EnrollmentState = client.registerDevice(name)
    suspend fun requestEmailCode(): EnrollmentState = client.requestEmailCode()
    suspend fun submitEmailCode(code: String): EnrollmentState = client.submitEmailCode(code)

    // ---- the new device: show the code, wait (answering the approver's run) ----

    /** Opens a request; show [ApprovalPrompt.code] and its QR code, then [waitForApproval]. */
    suspend fun startApproval(): ApprovalPrompt = client.startApproval()
    /** An email-only device asks a key holder for the vault keys (same prompt and wait). */
    suspend fun requestVaultKeys(): ApprovalPrompt = client.requestVaultKeys()
    /** The open request's prompt, if any (also after a restart: show it and wait again). */
    fun approvalPrompt(): ApprovalPrompt? = client.approvalPrompt()
    /**
     * Suspends until the request is decided, answering the approver's runs meanwhile;
     * cancel the coroutine to stop waiting. `VouchException.CodeUsedUp` when the code was
     * tried three times or is ten minutes old: offer [newCode].
     */
    suspend fun waitForApproval(): EnrollmentState = client.waitForApproval()
    /** The person asks for a new code: the request is replaced (fresh code, three tries). */
    suspend fun newCode(): ApprovalPrompt = client.newCode()
    /** Withdraws the open request (setup can start again). */
    suspend fun cancelApproval() = client.cancelApproval()

    // ---- the approver: "Trust this session?" ----

    suspend fun refreshPendingRequests(): List<PendingRequest> = client.pendingRequests()
    /**
     * Approves [requestId] with the code the person typed on its "Trust this session?"
     * screen (spaces and dashes are fine). Returns once the new device answered the run
     * and the keys went out sealed to it (up to 30 s: show "waiting for the new device…").
     */
    suspend fun approve(requestId: String, code: String) = offMain { client.approve(requestId, code) }
    /** Approves [requestId] with the QR text the app's own camera scanned on its screen. */
    suspend fun approveScanned(requestId: String, scanned: String) = offMain { client.approveScanned(requestId, scanned) }
    suspend fun deny(requestId: String) = client.deny(requestId)

    suspend fun devices(): List<Device> = client.devices()
    suspend fun createVault(name: String): VaultInfo = client.createVault(name)
    fun vaults(): List<VaultInfo> = client.vaults()
    suspend fun putItem(vaultId: String, value: ByteArray, itemId: String? = null) = client.putItem(vaultId, itemId, value)
    fun getItem(vaultId: String, itemId: String): ByteArray? = client.getItem(vaultId, itemId)
    suspend fun sync() = client.sync()
    /** Runs the event loop until the device is no longer trusted; launch it in a scope. */
    suspend fun runEvents() = client.runEvents()

    /**
     * A generated `suspend` call runs its Rust code on the thread that polls it, the
     * caller's dispatcher. An approval calls the blocking [UserPresence] from inside
     * (which waits for a prompt shown on the main thread), so it is polled on
     * `Dispatchers.IO`, never on the main thread, whatever scope calls it.
     */
    private suspend fun <T> offMain(call: suspend () -> T): T = withContext(Dispatchers.IO) { call() }

    override fun close() = client.close()
}

/** Feeds the flows; called on Rust threads, so it only sets values. */
internal class FlowListener : VouchListener {
    val state = MutableStateFlow<EnrollmentState>(EnrollmentState.SignedOut)
    val pending = MutableStateFlow<List<PendingRequest>>(emptyList())
    val vaults = MutableSharedFlow<Unit>(extraBufferCapacity = 1, onBufferOverflow = BufferOverflow.DROP_OLDEST)

    override fun onStateChanged(state: EnrollmentState) {
        this.state.value = state
    }

    override fun onPendingRequestsChanged(pending: List<PendingRequest>) {
        this.pending.value = pending
    }

    override fun onVaultsChanged() {
        vaults.tryEmit(Unit)
    }
}
