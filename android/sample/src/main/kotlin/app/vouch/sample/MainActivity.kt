package app.vouch.sample

import android.graphics.Bitmap
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
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
import androidx.compose.ui.unit.dp
import androidx.lifecycle.lifecycleScope
import app.vouch.ApprovalViewModel
import app.vouch.SetupScreen
import app.vouch.SetupViewModel
import app.vouch.Vouch
import app.vouch.android.KeystoreSecretStore
import app.vouch.android.LogcatLogger
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.DeviceKind
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import com.google.zxing.BarcodeFormat
import com.google.zxing.qrcode.QRCodeWriter
import kotlinx.coroutines.launch

/** The sample app: every setup and approval screen, driven by the plain-Kotlin view models. */
class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        LogcatLogger.install()
        val vouch = Vouch.open(
            profileDir = filesDir.resolve("vouch").path,
            serverUrl = BuildConfig.VOUCH_SERVER,
            device = DeviceInfo(DeviceKind.MOBILE, Build.MODEL, "Android ${Build.VERSION.RELEASE}", "Vouch sample"),
            secretStore = KeystoreSecretStore(),
        )
        val setup = SetupViewModel(vouch, lifecycleScope)
        val approvals = ApprovalViewModel(vouch, lifecycleScope)
        lifecycleScope.launch { if (vouch.state.value is EnrollmentState.Trusted) vouch.runEvents() }
        setContent { MaterialTheme { Surface(Modifier.fillMaxSize()) { App(vouch, setup, approvals) } } }
    }
}

@Composable
fun App(vouch: Vouch, setup: SetupViewModel, approvals: ApprovalViewModel) {
    val state by vouch.state.collectAsState()
    when (state) {
        is EnrollmentState.SignedOut -> SignIn(vouch)
        is EnrollmentState.Trusted -> Home(vouch, approvals)
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
                Text("Waiting for approval", style = MaterialTheme.typography.headlineMedium)
                Text("On a trusted device, approve \"Trust this session?\" and enter:")
                Text(s.number, style = MaterialTheme.typography.displayLarge)
                Text("Both screens show: ${s.phrase}")
                QrImage(s.qrPayload)
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
fun Home(vouch: Vouch, approvals: ApprovalViewModel) {
    val pending by approvals.requests.collectAsState()
    val error by approvals.error.collectAsState()
    val scope = androidx.compose.runtime.rememberCoroutineScope()
    var devices by remember { mutableStateOf(emptyList<app.vouch.ffi.Device>()) }
    LazyColumn(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        items(pending, key = { it.requestId }) { TrustThisSession(it, approvals) }
        error?.let { item { Text(it, color = MaterialTheme.colorScheme.error) } }
        item {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { approvals.refresh() }) { Text("Refresh requests") }
                OutlinedButton(onClick = { scope.launch { devices = vouch.client.devices() } }) { Text("My trusted devices") }
            }
        }
        items(devices, key = { it.id }) { d -> Text("${d.name} · ${d.kind} · ${d.status}") }
        item { Text("Local vaults", style = MaterialTheme.typography.titleMedium) }
        items(vouch.vaults(), key = { it.id }) { v -> Text(if (v.hasKey) v.name else "${v.name} (key not on this device)") }
    }
}

@Composable
fun TrustThisSession(request: PendingRequest, vm: ApprovalViewModel) {
    var number by remember { mutableStateOf("") }
    var scanned by remember { mutableStateOf("") }
    Card {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Trust this session?", style = MaterialTheme.typography.titleLarge)
            Text("${request.deviceName} (${request.deviceKind}, ${request.platform})")
            Text("From ${request.origin} at ${request.createdAt}")
            Text("Phrase: ${request.phrase}")
            OutlinedTextField(number, { number = it.take(2) }, label = { Text("Number shown on the new device") })
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { vm.approve(request.requestId, number) }, enabled = number.length == 2) { Text("Approve") }
                OutlinedButton(onClick = { vm.deny(request.requestId) }) { Text("Deny") }
            }
            // A camera scanner (CameraX + ML Kit) would fill this field; pasting works too.
            OutlinedTextField(scanned, { scanned = it }, label = { Text("Scanned QR code") })
            TextButton(onClick = { vm.approveScanned(scanned) }, enabled = scanned.startsWith("VOUCH1:")) { Text("Approve by QR code") }
        }
    }
}
