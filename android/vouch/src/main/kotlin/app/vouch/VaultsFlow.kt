package app.vouch

import app.vouch.ffi.VaultInfo
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/** The local vaults, in one call, read again whenever the core says they changed. */
data class VaultsScreen(val vaults: List<VaultInfo> = emptyList(), val error: UserMessage? = null)

/** The vault list's state machine in plain Kotlin (the androidx view model runs it). */
class VaultsFlow(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _screen = MutableStateFlow(VaultsScreen())
    val screen: StateFlow<VaultsScreen> = _screen.asStateFlow()

    /** Reads the list now and after every change the core reports; cancel the job to stop. */
    fun follow(): Job = scope.launch {
        refresh()
        vouch.vaultChanges.collect { refresh() }
    }

    /** Reads the list once. */
    suspend fun refresh() {
        _screen.value = try {
            VaultsScreen(vouch.vaults())
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _screen.value.copy(error = UserMessage.of(e))
        }
    }
}
