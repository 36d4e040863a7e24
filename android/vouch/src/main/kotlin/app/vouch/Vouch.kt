package app.vouch

import app.vouch.ffi.ApprovalPrompt
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.SecretStore
import app.vouch.ffi.TlsPolicy
import app.vouch.ffi.VaultInfo
import app.vouch.ffi.VouchClient
import app.vouch.ffi.VouchListener
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * The Kotlin face of Vouch: the generated [VouchClient] plus flows fed by its listener.
 *
 * Thin on purpose: every call is the generated `suspend` function; errors are the
 * generated sealed `VouchException` hierarchy (`VouchException.WrongCode`,
 * `VouchException.WrongNumber`, `VouchException.Offline`, …). No Android imports, so it
 * runs (and is tested) on the plain JVM.
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
         */
        fun open(
            profileDir: String,
            serverUrl: String,
            device: DeviceInfo,
            secretStore: SecretStore,
            tls: TlsPolicy? = null,
        ): Vouch {
            val listener = FlowListener()
            val client = VouchClient(profileDir, serverUrl, device, secretStore, listener, tls)
            listener.state.value = client.state()
            return Vouch(client, listener)
        }
    }

    suspend fun signIn(email: String, password: String): EnrollmentState = client.signIn(email, password)
    suspend fun remindMeLater(): EnrollmentState = client.remindMeLater()
    fun defaultDeviceName(): String = client.defaultDeviceName()
    suspend fun registerDevice(name: String): EnrollmentState = client.registerDevice(name)
    suspend fun requestEmailCode(): EnrollmentState = client.requestEmailCode()
    suspend fun submitEmailCode(code: String): EnrollmentState = client.submitEmailCode(code)
    suspend fun startApproval(): ApprovalPrompt = client.startApproval()
    /** Suspends until the request is decided; cancel the coroutine to stop waiting. */
    suspend fun waitForApproval(): EnrollmentState = client.waitForApproval()
    suspend fun refreshPendingRequests(): List<PendingRequest> = client.pendingRequests()
    suspend fun approve(requestId: String, typedNumber: String) = client.approve(requestId, typedNumber)
    suspend fun approveQr(qrText: String) = client.approveQr(qrText)
    suspend fun deny(requestId: String) = client.deny(requestId)
    suspend fun createVault(name: String): VaultInfo = client.createVault(name)
    fun vaults(): List<VaultInfo> = client.vaults()
    suspend fun putItem(vaultId: String, value: ByteArray, itemId: String? = null) = client.putItem(vaultId, itemId, value)
    fun getItem(vaultId: String, itemId: String): ByteArray? = client.getItem(vaultId, itemId)
    suspend fun sync() = client.sync()
    /** Runs the event loop until the device is no longer trusted; launch it in a scope. */
    suspend fun runEvents() = client.runEvents()

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
