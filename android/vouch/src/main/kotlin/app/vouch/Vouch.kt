package app.vouch

import app.vouch.ffi.ChainMember
import app.vouch.ffi.Recovered
import app.vouch.ffi.AdminUser
import app.vouch.ffi.ApprovalPrompt
import app.vouch.ffi.AuditEvent
import app.vouch.ffi.ConsoleSession
import app.vouch.ffi.Device
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.SecretStore
import app.vouch.ffi.TlsPolicy
import app.vouch.ffi.UserPresence
import app.vouch.ffi.ItemInfo
import app.vouch.ffi.SyncReport
import app.vouch.ffi.VaultInfo
import app.vouch.ffi.VerificationStarted
import app.vouch.ffi.VouchClient
import app.vouch.ffi.VouchException
import app.vouch.ffi.VouchListener
import kotlinx.coroutines.CoroutineDispatcher
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
 * Main-safe: a generated `suspend` call polls its Rust future on the calling thread, and
 * the blocking calls (open, vaults, items) run SQLite, HPKE and Keystore work where they
 * are called, so every call here runs on [dispatcher] (`Dispatchers.IO` unless one is
 * injected, as element-x-android does) and may be called from the main thread.
 *
 * Errors: every call throws [VouchError] (sealed, one case per thing a screen reacts to,
 * each with a [UserMessage] key), never the generated `VouchException` with its field
 * dump; cancellation passes through. No Android imports, so it runs (and is tested) on the
 * plain JVM.
 *
 * An approval (Trust v2) is a PAKE run between two devices at once: the new device shows
 * [ApprovalPrompt.code] and must be in [waitForApproval] (it answers the run) while the
 * person types that code into [approve] on a device that holds the keys.
 *
 * One client per process and profile: hold it in [VouchHolder] (application scope), not
 * per Activity; [close] it when the holder is closed.
 */
class Vouch private constructor(
    /** The generated client (tests and calls the facade does not wrap, inside this module). */
    internal val client: VouchClient,
    private val listener: FlowListener,
    private val dispatcher: CoroutineDispatcher,
) : AutoCloseable {
    /** The enrollment state, updated by the core on every transition (in memory: main-safe). */
    val state: StateFlow<EnrollmentState> = listener.state.asStateFlow()

    /** "Trust this session?" requests waiting on this device (approvers). */
    val pendingRequests: StateFlow<List<PendingRequest>> = listener.pending.asStateFlow()

    /** Emits whenever vaults or items changed (sync, new keys, remote edits). */
    val vaultChanges: SharedFlow<Unit> = listener.vaults.asSharedFlow()

    /**
     * The user's web console sessions as last fetched (key holders): [refreshConsoleSessions]
     * fills it, and the event loop ([runEvents]) refreshes it when a browser signs in and
     * waits for approval (`console_requested`) — show "Approve a web console sign-in?".
     */
    val consoleSessions: StateFlow<List<ConsoleSession>> = listener.consoles.asStateFlow()

    companion object {
        /**
         * Opens the profile in [profileDir] on [dispatcher]; no network. [tls] optionally
         * pins the server's key (`sha256/…`) or adds a private CA; a refused certificate is
         * [VouchError.CertificatePinMismatch] / [VouchError.UntrustedCertificate], never
         * `Offline`. [presence] is the OS's user-presence check a phone runs before it
         * approves (`app.vouch.android.BiometricPresence` on Android): a `MOBILE` device
         * without one, or whose check returns false, gets
         * [VouchError.UserPresenceRequired] from [approve] and sends nothing.
         */
        suspend fun open(
            profileDir: String,
            serverUrl: String,
            device: DeviceInfo,
            secretStore: SecretStore,
            tls: TlsPolicy? = null,
            presence: UserPresence? = null,
            dispatcher: CoroutineDispatcher = Dispatchers.IO,
        ): Vouch = withContext(dispatcher) {
            mapErrors {
                val listener = FlowListener()
                val client = VouchClient(profileDir, serverUrl, device, secretStore, listener, tls, presence)
                listener.state.value = client.state()
                Vouch(client, listener, dispatcher)
            }
        }

        /** The words the "Trust this session?" screen shows above the code field. */
        fun approverWarning(): String = app.vouch.ffi.approverWarning()
        /** The words above the code field of a `NEW_ROOT` request (another person's account). */
        fun newRootWarning(): String = app.vouch.ffi.newRootWarning()

        /** Runs [block], turning a generated `VouchException` into [VouchError]. */
        internal inline fun <T> mapErrors(block: () -> T): T = try {
            block()
        } catch (e: VouchException) {
            throw VouchError.from(e)
        }
    }

    /** Runs [call] on the dispatcher with errors mapped. */
    private suspend fun <T> io(call: suspend () -> T): T = withContext(dispatcher) {
        try {
            call()
        } catch (e: VouchException) {
            throw VouchError.from(e)
        }
    }

    suspend fun signIn(email: String, password: String): EnrollmentState = io { client.signIn(email, password) }
    suspend fun remindMeLater(): EnrollmentState = io { client.remindMeLater() }
    suspend fun defaultDeviceName(): String = io { client.defaultDeviceName() }
    suspend fun registerDevice(name: String): EnrollmentState = io { client.registerDevice(name) }
    /** Emails a code (also "I don't have access to my trusted device"); throttled. */
    suspend fun requestEmailCode(): EnrollmentState = io { client.requestEmailCode() }
    suspend fun submitEmailCode(code: String): EnrollmentState = io { client.submitEmailCode(code) }

    // ---- the new device: show the code, wait (answering the approver's run) ----

    /** Opens a request; show [ApprovalPrompt.code] and its QR code, then [waitForApproval]. */
    suspend fun startApproval(): ApprovalPrompt = io { client.startApproval() }

    /**
     * Starts verifying the way that can work: an approval when the user has a key holder,
     * else (the user's first device, which nobody can approve) an emailed code.
     */
    suspend fun startVerification(): VerificationStarted = io { client.startVerification() }
    /** An email-only device asks a key holder for the vault keys (same prompt and wait). */
    suspend fun requestVaultKeys(): ApprovalPrompt = io { client.requestVaultKeys() }
    /** The open request's prompt, if any (also after a restart: show it and wait again). */
    suspend fun approvalPrompt(): ApprovalPrompt? = io { client.approvalPrompt() }
    /**
     * Suspends until the request is decided, answering the approver's runs meanwhile;
     * cancel the coroutine to stop waiting. [VouchError.CodeUsedUp] when the code was
     * tried three times or is ten minutes old: offer [newCode].
     */
    suspend fun waitForApproval(): EnrollmentState = io { client.waitForApproval() }
    /** The person asks for a new code: the request is replaced (fresh code, three tries). */
    suspend fun newCode(): ApprovalPrompt = io { client.newCode() }
    /** Withdraws the open request (setup can start again). */
    suspend fun cancelApproval() = io { client.cancelApproval() }

    // ---- the approver: "Trust this session?" ----

    /** The pending requests, in one call (also updates [pendingRequests]). */
    suspend fun refreshPendingRequests(): List<PendingRequest> = io { client.pendingRequests() }
    /**
     * Approves [requestId] with the code the person typed on its "Trust this session?"
     * screen (spaces and dashes are fine). Returns once the new device answered the run
     * and the keys went out sealed to it (up to 30 s: show "waiting for the new device…").
     * The [UserPresence] check runs inside, blocking a dispatcher thread (never the main
     * thread) while its prompt is shown.
     */
    suspend fun approve(requestId: String, code: String) = io { client.approve(requestId, code) }
    /** Approves [requestId] with the QR text the app's own camera scanned on its screen. */
    suspend fun approveScanned(requestId: String, scanned: String) = io { client.approveScanned(requestId, scanned) }
    suspend fun deny(requestId: String) = io { client.deny(requestId) }

    // ---- the web console: a browser signed in with the password waits for a key holder ----

    /** The user's console sessions, pending and active, in one call (also updates [consoleSessions]). */
    suspend fun refreshConsoleSessions(): List<ConsoleSession> = io { client.consoleSessions() }
    /**
     * Approves the console sign-in [sessionId] with the 6-digit code its browser shows
     * (key holders: [VouchError.KeyHolderRequired] otherwise). A wrong code is
     * [VouchError.WrongCode] with the attempts left; the third ends the sign-in
     * ([VouchError.CodeExpired]). On a phone the [UserPresence] check runs first
     * ([VouchError.UserPresenceRequired], nothing sent). The browser gets no key.
     */
    suspend fun approveConsole(sessionId: String, code: String): ConsoleSession =
        io { client.approveConsole(sessionId, code) }
    /** Ends a console session, pending or active (key holders). */
    suspend fun revokeConsole(sessionId: String) = io { client.revokeConsole(sessionId) }

    // ---- devices and vaults ----

    /** The user's devices, in one call. */
    suspend fun devices(): List<Device> = io { client.devices() }
    /** Disables a device (web devices and admins; a phone gets [VouchError.Server] `forbidden`). */
    suspend fun disableDevice(deviceId: String) = io { client.disableDevice(deviceId) }
    /** Disables a device and, with [alsoApproved], those it approved in the last 30 days (key holders). */
    suspend fun disableDevices(deviceId: String, alsoApproved: Boolean): List<String> =
        io { client.disableDevices(deviceId, alsoApproved) }
    /**
     * Renames [deviceId] (the naming rules of registration: [VouchError.InvalidInput],
     * [VouchError.DeviceNameTaken]). Any trusted device may rename itself (its [state]
     * follows); a key-holder web device renames the user's other devices.
     */
    suspend fun renameDevice(deviceId: String, name: String): Device = io { client.renameDevice(deviceId, name) }
    /**
     * Signs this device out: a trusted device disables itself on the server (its name and
     * slot are freed, the other devices are told), then wipes its keys, items and tokens
     * ([state] becomes `Wiped`). False when the device was never trusted (nothing to end
     * on the server). [VouchError.Offline] changes nothing.
     */
    suspend fun signOut(): Boolean = io { client.signOut() }
    /** The key holders on the vouch chain, verified on this device ([VouchError.ChainRefused] otherwise). */
    suspend fun chainMembers(): List<ChainMember> = io { client.chainMembers() }
    /** Makes a recovery key and returns its 24 words: show them once, never store or log them. */
    suspend fun createRecoveryKey(): String = io { client.createRecoveryKey() }
    /**
     * Uses the recovery key's words on this device after every device was lost: the lost
     * key holders are revoked ([Recovered.revoked]) and the user's email-only devices
     * disabled ([Recovered.disabled]); name both to the person first. Wrong words:
     * [VouchError.InvalidRecoveryWords] says what to fix.
     */
    suspend fun useRecoveryKey(words: String): Recovered = io { client.useRecoveryKey(words) }
    /** Revokes the recovery key; false when there was none. */
    suspend fun revokeRecoveryKey(): Boolean = io { client.revokeRecoveryKey() }
    suspend fun createVault(name: String): VaultInfo = io { client.createVault(name) }
    suspend fun vaults(): List<VaultInfo> = io { client.vaults() }
    /** A vault of this device by id or by name (trimmed, case-insensitive); [VouchError.InvalidInput] when none or ambiguous. */
    suspend fun findVault(nameOrId: String): VaultInfo = io { client.findVault(nameOrId) }
    /** Whether a vault of this device already has [name] (trimmed, case-insensitive): names are unique per user. */
    suspend fun vaultNameTaken(name: String): Boolean = io { client.vaultNameTaken(name) }
    suspend fun listItems(vaultId: String): List<ItemInfo> = io { client.listItems(vaultId) }
    /** Writes an item; [title] is sealed with the value (null keeps an existing item's title). */
    suspend fun putItem(vaultId: String, value: ByteArray, itemId: String? = null, title: String? = null): ItemInfo =
        io { client.putItem(vaultId, itemId, value, title) }
    /** A live item by title (without case) or id. */
    suspend fun findItem(vaultId: String, titleOrId: String): ItemInfo = io { client.findItem(vaultId, titleOrId) }
    /** Deletes a vault on every device of the user (its deletion is sealed under the vault key). */
    suspend fun deleteVault(vaultId: String) = io { client.deleteVault(vaultId) }
    suspend fun getItem(vaultId: String, itemId: String): ByteArray? = io { client.getItem(vaultId, itemId) }
    suspend fun deleteItem(vaultId: String, itemId: String): ItemInfo = io { client.deleteItem(vaultId, itemId) }
    suspend fun sync(): SyncReport = io { client.sync() }
    /** Runs the event loop until the device is no longer trusted; launch it in a scope. */
    suspend fun runEvents() = io { client.runEvents() }

    // ---- admin ----

    /** Admin: every device of the workspace, or [userId]'s. */
    suspend fun adminDevices(userId: String? = null): List<Device> = io { client.adminDevices(userId) }
    /** Admin: deprovisions a user (disables every device, ends the sign-ins); the disabled ids. */
    suspend fun adminDeprovision(userId: String): List<String> = io { client.adminDeprovision(userId) }
    /** Admin: the workspace's users with their device counts, in one call. */
    suspend fun adminUsers(): List<AdminUser> = io { client.adminUsers() }
    /** Admin: a user by email (compared without case) or id; [VouchError.InvalidInput] when there is none. */
    suspend fun adminUser(emailOrId: String): AdminUser = io { client.adminUser(emailOrId) }
    /** Admin: reactivates a deprovisioned user (new devices only; the old ones stay disabled). */
    suspend fun adminReactivate(userId: String): AdminUser = io { client.adminReactivate(userId) }
    /** Admin: lifts a user's email-code lock and sign-in throttle. */
    suspend fun adminUnlock(userId: String) = io { client.adminUnlock(userId) }
    /** Admin: the newest [limit] (default 100) audit entries of the workspace or of [userId], oldest first. */
    suspend fun adminAudit(userId: String? = null, limit: UInt? = null): List<AuditEvent> =
        io { client.adminAudit(userId, limit) }

    /** Frees the Rust client (its database and tasks). Calls after this fail. */
    override fun close() = client.close()
}

/** Feeds the flows; called on Rust threads, so it only sets values. */
internal class FlowListener : VouchListener {
    val state = MutableStateFlow<EnrollmentState>(EnrollmentState.SignedOut)
    val pending = MutableStateFlow<List<PendingRequest>>(emptyList())
    val vaults = MutableSharedFlow<Unit>(extraBufferCapacity = 1, onBufferOverflow = BufferOverflow.DROP_OLDEST)
    val consoles = MutableStateFlow<List<ConsoleSession>>(emptyList())

    override fun onStateChanged(state: EnrollmentState) {
        this.state.value = state
    }

    override fun onPendingRequestsChanged(pending: List<PendingRequest>) {
        this.pending.value = pending
    }

    override fun onVaultsChanged() {
        vaults.tryEmit(Unit)
    }

    override fun onConsoleSessionsChanged(sessions: List<ConsoleSession>) {
        consoles.value = sessions
    }
}
