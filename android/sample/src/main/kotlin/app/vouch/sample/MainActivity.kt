package app.vouch.sample

import android.os.Bundle
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.ui.Modifier
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import app.vouch.VouchError
import app.vouch.android.ApprovalViewModel
import app.vouch.android.DevicesViewModel
import app.vouch.android.SetupViewModel
import app.vouch.ffi.EnrollmentState
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.launch

/**
 * The sample app: every setup and approval screen. A FragmentActivity, because the
 * approver's user-presence check is a BiometricPrompt. It holds no client of its own: the
 * view models (androidx, surviving rotation) get the process's one client from
 * [SampleApp.vouchHolder], and every call runs off the main thread inside the facade.
 */
class MainActivity : FragmentActivity() {
    private val setup: SetupViewModel by viewModels()
    private val approvals: ApprovalViewModel by viewModels()
    private val devices: DevicesViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as SampleApp
        // Approve asks for a fingerprint, face or the screen lock first (registered here,
        // in onCreate, as androidx.biometric requires).
        app.presence.attach(this)
        // While the app is in front and the device is trusted, the event loop keeps the
        // request list, vaults and keys current (and wipes on device_disabled).
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                val vouch = try {
                    app.vouchHolder.get()
                } catch (e: VouchError) {
                    return@repeatOnLifecycle // the screens show why (ClientState.Failed)
                }
                vouch.state.collectLatest { state ->
                    if (state is EnrollmentState.Trusted) {
                        try {
                            vouch.runEvents()
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: VouchError) {
                            // Offline or wiped: the state flow says so; the loop restarts on
                            // the next state or the next time the app comes to the front.
                        }
                    }
                }
            }
        }
        setContent { MaterialTheme { Surface(Modifier.fillMaxSize()) { App(setup, approvals, devices) } } }
    }
}
