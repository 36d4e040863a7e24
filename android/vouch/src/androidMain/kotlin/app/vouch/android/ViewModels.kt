package app.vouch.android

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import app.vouch.ApprovalFlow
import app.vouch.ConsoleFlow
import app.vouch.DevicesFlow
import app.vouch.SetupFlow
import app.vouch.UserMessage
import app.vouch.VaultsFlow
import app.vouch.Vouch
import app.vouch.VouchHolder
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/**
 * The app's `Application` implements this so view models find the one [VouchHolder] of
 * the process (the client is opened once, off the main thread, and outlives Activities).
 */
interface VouchApplication {
    val vouchHolder: VouchHolder
}

/** What a screen backed by Vouch shows before the client is open, or if it cannot be. */
sealed interface ClientState<out T> {
    data object Opening : ClientState<Nothing>
    data class Ready<T>(val flow: T) : ClientState<T>
    data class Failed(val message: UserMessage) : ClientState<Nothing>
}

/**
 * Base of the androidx view models: gets the process's [Vouch] from the application's
 * [VouchHolder] in `viewModelScope` (on `Dispatchers.IO` inside [Vouch.open]), then makes
 * the plain-Kotlin flow with `viewModelScope`, so its jobs stop in `onCleared`. The client
 * itself is not closed here: it belongs to the process, not to a screen.
 */
abstract class VouchViewModel<T>(
    app: Application,
    make: (Vouch, CoroutineScope) -> T,
    /** Runs once the flow exists (e.g. resume from the saved state); a parameter, not an
     *  override, because it may run inside this constructor (`Dispatchers.Main.immediate`). */
    onReady: (T) -> Unit = {},
) : AndroidViewModel(app) {
    private val _client = MutableStateFlow<ClientState<T>>(ClientState.Opening)
    val client: StateFlow<ClientState<T>> = _client.asStateFlow()

    init {
        viewModelScope.launch {
            val holder = (getApplication<Application>() as VouchApplication).vouchHolder
            _client.value = try {
                val flow = make(holder.get(), viewModelScope)
                onReady(flow)
                ClientState.Ready(flow)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                ClientState.Failed(UserMessage.of(e))
            }
        }
    }
}

/** Setup (Strengthen your account security → name → verify), resumed from the saved state. */
class SetupViewModel(app: Application) : VouchViewModel<SetupFlow>(app, ::SetupFlow, { it.resume() })

/** "Trust this session?" on an approver. */
class ApprovalViewModel(app: Application) : VouchViewModel<ApprovalFlow>(app, ::ApprovalFlow, { it.refresh() })

/** "My trusted devices". */
class DevicesViewModel(app: Application) : VouchViewModel<DevicesFlow>(app, ::DevicesFlow, { it.refresh() })

/** The local vaults, following the core's changes. */
class VaultsViewModel(app: Application) : VouchViewModel<VaultsFlow>(app, ::VaultsFlow, { it.follow() })

/** "Approve a web console sign-in": the browsers waiting for this key holder's code. */
class ConsoleViewModel(app: Application) : VouchViewModel<ConsoleFlow>(app, ::ConsoleFlow, { it.refresh() })
