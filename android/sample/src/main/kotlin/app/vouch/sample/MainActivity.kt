package app.vouch.sample

import android.graphics.Bitmap
import android.os.Build
import android.os.Bundle
import androidx.activity.compose.setContent
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.lifecycleScope
import app.vouch.ApprovalViewModel
import app.vouch.SetupScreen
import app.vouch.SetupViewModel
import app.vouch.TrustThisSession
import app.vouch.Vouch
import app.vouch.android.BiometricPresence
import app.vouch.android.KeystoreSecretStore
import app.vouch.android.LogcatLogger
import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.DeviceKind
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.Tier
import com.google.zxing.BarcodeFormat
import com.google.zxing.qrcode.QRCodeWriter
import kotlinx.coroutines.launch

/**
 * The sample app: every setup and approval screen, driven by the plain-Kotlin view models.
 * A FragmentActivity, because the approver's user-presence check is a BiometricPrompt.
 */
class MainActivity : FragmentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        LogcatLogger.install()
        val vouch = Vouch.open(
            profileDir = filesDir.resolve("vouch").path,
            serverUrl = BuildConfig.VOUCH_SERVER,
            device = DeviceInfo(DeviceKind.MOBILE, Build.MODEL, "Android ${Build.VERSION.RELEASE}", "Vouch sample"),
            secretStore = KeystoreSecretStore(),
            // Approve asks for a fingerprint, face or the screen lock first (created here,
            // in onCreate, as androidx.biometric requires).
            presence = BiometricPresence(this),
        )
        val setup = SetupViewModel(vouch, lifecycleScope)
        val approvals = ApprovalViewModel(vouch, lifecycleScope)
        // A request still open (the app was closed while it waited) is shown again.
        setup.resume()
        lifecycleScope.launch { if (vouch.state.value is EnrollmentState.Trusted) vouch.runEvents() }
        setContent { MaterialTheme { Surface(Modifier.fillMaxSize()) { App(vouch, setup, approvals) } } }
    }
}

@Composable
fun App(vouch: Vouch, setup: SetupViewModel, approvals: ApprovalViewModel) {
    val state by vouch.state.collectAsState()
    when (state) {
        is EnrollmentState.SignedOut -> SignIn(vouch)
        is EnrollmentState.Trusted -> Home(vouch, setup, approvals)
        else -> Setup(setup)
    }
}

@Composable
fun SignIn(vouch: Vouch) {
    var email by remember { mutableStateOf("alice@acme.test") }
    var password by remember { mutableStateOf("") }
    val scope = androidx.compose.runtime.rememberCoroutineScope()
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("Sign in", style = MaterialTheme.typography.headlineMedium)
        OutlinedTextField(email, { email = it }, label = { Text("Email") })
        OutlinedTextField(password, { password = it }, label = { Text("Password") })
        Button(onClick = { scope.launch { vouch.signIn(email, password) } }) { Text("Sign in") }
    }
}

@Composable
fun Setup(vm: SetupViewModel) {
    val screen by vm.screen.collectAsState()
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        when (val s = screen) {
            SetupScreen.Start -> {
                Text("Strengthen your account security", style = MaterialTheme.typography.headlineMedium)
                Text("Set up a trusted session so this device can open your vaults.")
                Button(onClick = vm::start) { Text("Start") }
                TextButton(onClick = { vm.remindMeLater() }) { Text("Remind me later") }
            }
            SetupScreen.NotSecure -> {
                Text("This session is not secure", style = MaterialTheme.typography.headlineSmall)
                Text("Vaults stay locked until you set up a trusted session.")
                Button(onClick = vm::start) { Text("Set up now") }
            }
            is SetupScreen.NameDevice -> {
                var name by remember(s.suggested) { mutableStateOf(s.suggested) }
                Text("Name your device", style = MaterialTheme.typography.headlineMedium)
                OutlinedTextField(name, { name = it }, label = { Text("Device name") }, isError = s.error != null)
                s.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
                Button(onClick = { vm.submitName(name, byEmail = false) }) { Text("Verify with a trusted device") }
                OutlinedButton(onClick = { vm.submitName(name, byEmail = true) }) { Text("Verify by email code") }
            }
            is SetupScreen.VerifyCode -> {
                var code by remember { mutableStateOf("") }
                Text("Verify your device", style = MaterialTheme.typography.headlineMedium)
                Text("Enter the code we emailed you. It expires in 5 minutes.")
                OutlinedTextField(code, { code = it }, label = { Text("Code") }, isError = s.error != null)
                s.attemptsLeft?.let { Text("$it attempt(s) left", color = MaterialTheme.colorScheme.error) }
                Button(onClick = { vm.submitCode(code) }) { Text("Verify") }
            }
            is SetupScreen.WaitingForApproval -> {
                WaitingForApproval(s, vm)
                TextButton(onClick = { vm.noAccessToTrustedDevice() }) { Text("I don't have access to my trusted device") }
            }
            SetupScreen.Trusted -> Text("This device is trusted.")
            is SetupScreen.Failed -> {
                Text(s.message, style = MaterialTheme.typography.headlineSmall)
                Button(onClick = vm::start) { Text("Try again") }
            }
        }
    }
}

/** The new device's side: the code to type on a device that holds the keys, and its QR. */
@Composable
fun WaitingForApproval(s: SetupScreen.WaitingForApproval, vm: SetupViewModel) {
    Text("Waiting for approval", style = MaterialTheme.typography.headlineMedium)
    if (s.codeUsedUp) {
        Text("This code can no longer be used.", color = MaterialTheme.colorScheme.error)
        Button(onClick = { vm.newCode() }) { Text("Get a new code") }
        return
    }
    Text(
        if (s.purpose == ApprovalPurpose.SHARE_KEYS) "On a device that holds your keys, open the request and enter this code:"
        else "On a trusted device, open \"Trust this session?\" and enter this code:",
    )
    Text(s.code, style = MaterialTheme.typography.displayLarge)
    Text("Or scan this QR code with the Vouch app:")
    QrImage(s.qrPayload)
    Text("Only type it on your own device. Nobody from Vouch or your company will ask you for it.")
    Text("${s.runsLeft} tr${if (s.runsLeft == 1) "y" else "ies"} left")
    TextButton(onClick = { vm.newCode() }) { Text("Get a new code") }
}

@Composable
fun QrImage(text: String) {
    val bitmap = remember(text) {
        val matrix = QRCodeWriter().encode(text, BarcodeFormat.QR_CODE, 512, 512)
        Bitmap.createBitmap(512, 512, Bitmap.Config.RGB_565).apply {
            for (x in 0 until 512) for (y in 0 until 512) setPixel(x, y, if (matrix[x, y]) 0xFF000000.toInt() else -1)
        }
    }
    Image(bitmap.asImageBitmap(), contentDescription = "Approval QR code", modifier = Modifier.size(220.dp))
}

@Composable
fun Home(vouch: Vouch, setup: SetupViewModel, approvals: ApprovalViewModel) {
    val state by vouch.state.collectAsState()
    val pending by approvals.requests.collectAsState()
    val selected by approvals.selected.collectAsState()
    val setupScreen by setup.screen.collectAsState()
    val scope = androidx.compose.runtime.rememberCoroutineScope()
    var devices by remember { mutableStateOf(emptyList<app.vouch.ffi.Device>()) }
    val emailOnly = (state as? EnrollmentState.Trusted)?.tier == Tier.EMAIL_ONLY
    // "Trust this session?" is a screen of its own, reached from a request's details only.
    selected?.let {
        TrustThisSessionScreen(it, approvals)
        return
    }
    LazyColumn(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        if (emailOnly) {
            item {
                Card {
                    Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                        Text("Verified by email only", style = MaterialTheme.typography.titleMedium)
                        Text("This device holds no vault keys and cannot approve others. Ask a device that holds your keys.")
                        when (val s = setupScreen) {
                            is SetupScreen.WaitingForApproval -> WaitingForApproval(s, setup)
                            is SetupScreen.Failed -> Text(s.message, color = MaterialTheme.colorScheme.error)
                            else -> Unit
                        }
                        if (setupScreen !is SetupScreen.WaitingForApproval) {
                            Button(onClick = { setup.askForKeys() }) { Text("Ask for my vault keys") }
                        }
                    }
                }
            }
        } else {
            items(pending, key = { it.requestId }) { PendingRequestRow(it, approvals) }
            item { Button(onClick = { approvals.refresh() }) { Text("Refresh requests") } }
        }
        item {
            OutlinedButton(onClick = { scope.launch { devices = vouch.devices() } }) { Text("My trusted devices") }
        }
        items(devices, key = { it.id }) { d -> Text("${d.name} · ${d.kind} · ${d.status}") }
        item { Text("Local vaults", style = MaterialTheme.typography.titleMedium) }
        items(vouch.vaults(), key = { it.id }) { v -> Text(if (v.hasKey) v.name else "${v.name} (key not on this device)") }
    }
}

/** A request in the list: who asks, its flags, and "Review" (never a bare code field). */
@Composable
fun PendingRequestRow(request: PendingRequest, vm: ApprovalViewModel) {
    Card {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(request.deviceName, style = MaterialTheme.typography.titleMedium)
            Text("${request.deviceKind} · ${request.platform} · from ${request.origin}")
            Button(onClick = { vm.open(request.requestId) }) { Text("Review") }
        }
    }
}

/**
 * "Trust this session?": the request's details, its flags, the warning, then the code the
 * person reads off the new device. Approve runs the PAKE; on this phone the BiometricPrompt
 * comes first.
 */
@Composable
fun TrustThisSessionScreen(s: TrustThisSession, vm: ApprovalViewModel) {
    val request = s.request
    var code by remember(request.requestId) { mutableStateOf("") }
    var scanned by remember(request.requestId) { mutableStateOf("") }
    val digits = code.count { it.isDigit() }
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(10.dp)) {
        Text("Trust this session?", style = MaterialTheme.typography.headlineMedium)
        Text("${request.deviceName} (${request.deviceKind}, ${request.platform})")
        Text("From ${request.origin} at ${request.createdAt}")
        if (request.purpose == ApprovalPurpose.SHARE_KEYS) Text("It asks for your vault keys.")
        if (request.purpose == ApprovalPurpose.NEW_ROOT) Text("A member with no trusted device left asks to start again (no keys travel).")
        if (s.emailOnly) {
            Text("⚠ This device was verified by email only.", color = MaterialTheme.colorScheme.error)
        }
        if (s.otherNetwork) {
            Text("⚠ It asks from another network than this phone.", color = MaterialTheme.colorScheme.error)
        }
        if (s.approvedWaitingForDevice || s.approved) {
            Text("Approved — waiting for the device to confirm it received the keys.")
            Button(onClick = vm::close) { Text("Done") }
            return@Column
        }
        Text(s.warning, style = MaterialTheme.typography.bodyLarge)
        OutlinedTextField(
            code,
            { typed -> code = typed.filter { it.isDigit() || it == ' ' }.take(7) },
            label = { Text("Code shown on the new device") },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
            isError = s.error != null,
            enabled = !s.waitingForDevice,
        )
        if (s.waitingForDevice) Text("Waiting for the new device…")
        s.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { vm.approve(code) }, enabled = digits == 6 && !s.waitingForDevice) { Text("Approve") }
            OutlinedButton(onClick = { vm.deny() }, enabled = !s.waitingForDevice) { Text("Deny") }
            TextButton(onClick = vm::close) { Text("Back") }
        }
        // This app's own camera scanner (CameraX + ML Kit) would fill this field on this
        // screen; text pasted from elsewhere is exactly what a phisher would send.
        OutlinedTextField(scanned, { scanned = it }, label = { Text("Scanned QR code") }, enabled = !s.waitingForDevice)
        TextButton(
            onClick = { vm.approveScanned(scanned) },
            enabled = scanned.startsWith("VOUCH2:") && !s.waitingForDevice,
        ) { Text("Approve by QR code") }
    }
}
