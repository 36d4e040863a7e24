package app.vouch.sample

import android.graphics.Bitmap
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.Checkbox
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.State
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import app.vouch.ApprovalFlow
import app.vouch.ApproveConsole
import app.vouch.ConsoleFlow
import app.vouch.DevicesFlow
import app.vouch.SetupFlow
import app.vouch.SetupScreen
import app.vouch.TrustThisSession
import app.vouch.UserMessage
import app.vouch.VaultsFlow
import app.vouch.android.ApprovalViewModel
import app.vouch.android.ClientState
import app.vouch.android.ConsoleViewModel
import app.vouch.android.DevicesViewModel
import app.vouch.android.SetupViewModel
import app.vouch.android.VaultsViewModel
import app.vouch.android.text
import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.ConsoleSession
import app.vouch.ffi.DeviceStatus
import app.vouch.ffi.PendingRequest
import com.google.zxing.BarcodeFormat
import com.google.zxing.qrcode.QRCodeWriter
import kotlinx.coroutines.delay
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle

/** A [UserMessage] in the words of the string resources. */
@Composable
fun message(m: UserMessage): String = LocalContext.current.text(m)

/** Waits for the process's client, then shows [content] with the view model's flow. */
@Composable
fun <T> WithClient(state: ClientState<T>, content: @Composable (T) -> Unit) {
    when (state) {
        is ClientState.Opening -> Column(Modifier.padding(24.dp)) {
            CircularProgressIndicator()
            Text(stringResource(R.string.loading))
        }
        is ClientState.Failed -> Text(message(state.message), Modifier.padding(24.dp), color = MaterialTheme.colorScheme.error)
        is ClientState.Ready -> content(state.flow)
    }
}

@Composable
fun App(setupVm: SetupViewModel, approvalsVm: ApprovalViewModel, devicesVm: DevicesViewModel) {
    val client by setupVm.client.collectAsState()
    WithClient(client) { setup ->
        val screen by setup.screen.collectAsState()
        when (val s = screen) {
            is SetupScreen.Trusted -> Home(s, setup, approvalsVm, devicesVm)
            else -> Setup(setup, s)
        }
    }
}

// ---- setup -------------------------------------------------------------------------

@Composable
fun Setup(vm: SetupFlow, screen: SetupScreen) {
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        when (screen) {
            SetupScreen.Loading -> CircularProgressIndicator()
            is SetupScreen.SignedOut -> SignIn(vm, screen)
            is SetupScreen.Start -> {
                Text(stringResource(R.string.start_title), style = MaterialTheme.typography.headlineMedium)
                Text(stringResource(R.string.start_body))
                screen.error?.let { ErrorText(it) }
                Button(onClick = { vm.start() }) { Text(stringResource(R.string.start_button)) }
                TextButton(onClick = { vm.remindMeLater() }) { Text(stringResource(R.string.remind_later)) }
            }
            SetupScreen.NotSecure -> {
                NotSecureBanner(onSetUp = { vm.start() })
            }
            is SetupScreen.NameDevice -> NameDevice(vm, screen)
            is SetupScreen.DeviceLimit -> {
                Text(stringResource(R.string.limit_title), style = MaterialTheme.typography.headlineSmall)
                Text(stringResource(R.string.limit_body, screen.name))
                Button(onClick = { vm.submitName(screen.name, screen.byEmail) }) { Text(stringResource(R.string.try_again)) }
            }
            is SetupScreen.VerifyIdentity -> {
                Text(stringResource(R.string.identity_title), style = MaterialTheme.typography.headlineMedium)
                Text(stringResource(R.string.identity_body, screen.deviceName))
                screen.error?.let { ErrorText(it) }
                Button(onClick = { vm.verifyWithTrustedDevice() }) { Text(stringResource(R.string.verify_with_trusted)) }
                TextButton(onClick = { vm.noAccessToTrustedDevice() }) { Text(stringResource(R.string.no_access)) }
            }
            is SetupScreen.VerifyCode -> VerifyCode(vm, screen)
            is SetupScreen.WaitingForApproval -> WaitingForApproval(vm, screen)
            is SetupScreen.Trusted -> Text(stringResource(R.string.trusted_body))
            is SetupScreen.Failed -> {
                ErrorText(screen.message)
                // Denied or expired: register again (a new name and verification); anything
                // else (offline, …): back to the screen of the saved state.
                Button(onClick = { vm.start() }) { Text(stringResource(R.string.start_again)) }
                TextButton(onClick = { vm.resume() }) { Text(stringResource(R.string.try_again)) }
            }
        }
    }
}

@Composable
fun ErrorText(m: UserMessage) = Text(message(m), color = MaterialTheme.colorScheme.error)

@Composable
fun SignIn(vm: SetupFlow, s: SetupScreen.SignedOut) {
    var email by rememberSaveable { mutableStateOf("alice@acme.test") }
    var password by remember { mutableStateOf("") }
    Text(stringResource(R.string.sign_in_title), style = MaterialTheme.typography.headlineMedium)
    OutlinedTextField(email, { email = it }, label = { Text(stringResource(R.string.sign_in_email)) })
    OutlinedTextField(
        password, { password = it },
        label = { Text(stringResource(R.string.sign_in_password)) },
        visualTransformation = PasswordVisualTransformation(),
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
    )
    s.error?.let { ErrorText(it) }
    Button(onClick = { vm.signIn(email, password) }) { Text(stringResource(R.string.sign_in_button)) }
}

/** Signed in but not secure ("Remind me later"), also after a restart. */
@Composable
fun NotSecureBanner(onSetUp: () -> Unit) {
    Card(colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer)) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(stringResource(R.string.not_secure_banner))
            Button(onClick = onSetUp) { Text(stringResource(R.string.set_up_now)) }
        }
    }
}

/** "Name your device": the default name prefilled, editable. */
@Composable
fun NameDevice(vm: SetupFlow, s: SetupScreen.NameDevice) {
    var name by rememberSaveable(s.suggested) { mutableStateOf(s.suggested) }
    Text(stringResource(R.string.name_title), style = MaterialTheme.typography.headlineMedium)
    Text(stringResource(R.string.name_body))
    OutlinedTextField(
        name, { name = it },
        label = { Text(stringResource(R.string.name_label)) },
        isError = s.error != null,
        singleLine = true,
        modifier = Modifier.fillMaxWidth(),
    )
    s.error?.let { ErrorText(it) }
    Button(onClick = { vm.submitName(name, byEmail = false) }) { Text(stringResource(R.string.verify_with_trusted)) }
    OutlinedButton(onClick = { vm.submitName(name, byEmail = true) }) { Text(stringResource(R.string.verify_by_email)) }
}

/** The current time, ticking every second (for countdowns; UI only). */
@Composable
fun rememberNow(): State<Instant> = produceState(Instant.now()) {
    while (true) {
        delay(1_000)
        value = Instant.now()
    }
}

fun mmss(seconds: Long): String = "%d:%02d".format(seconds / 60, seconds % 60)

/** "Verify your device": the code, its 5-minute expiry counted down, resend with its throttle. */
@Composable
fun VerifyCode(vm: SetupFlow, s: SetupScreen.VerifyCode) {
    var code by rememberSaveable(s.expiresAt) { mutableStateOf("") }
    val now by rememberNow()
    val left = s.secondsLeft(now)
    val expired = s.expired || (s.expiresAt != null && left == 0L)
    val resendIn = s.resendInSeconds(now)
    Text(stringResource(R.string.verify_title), style = MaterialTheme.typography.headlineMedium)
    Text(stringResource(R.string.verify_body))
    if (expired) {
        Text(stringResource(R.string.verify_expired), color = MaterialTheme.colorScheme.error)
    } else if (s.expiresAt != null) {
        Text(stringResource(R.string.verify_expires_in, mmss(left)))
    }
    OutlinedTextField(
        code, { typed -> code = typed.filter { it.isDigit() }.take(6) },
        label = { Text(stringResource(R.string.code_label)) },
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
        isError = s.error != null,
        enabled = !expired,
    )
    s.error?.let { ErrorText(it) }
    Button(onClick = { vm.submitCode(code) }, enabled = !expired && code.length == 6) { Text(stringResource(R.string.verify_button)) }
    when {
        expired -> Button(onClick = { vm.resendCode() }, enabled = resendIn == 0L) { Text(stringResource(R.string.send_new_code)) }
        resendIn > 0 -> TextButton(onClick = {}, enabled = false) { Text(stringResource(R.string.resend_in, resendIn.toInt())) }
        else -> TextButton(onClick = { vm.resendCode() }) { Text(stringResource(R.string.resend)) }
    }
}

/** The new device's side: the code to type on a device that holds the keys, and its QR. */
@Composable
fun WaitingForApproval(vm: SetupFlow, s: SetupScreen.WaitingForApproval) {
    Text(stringResource(R.string.waiting_title), style = MaterialTheme.typography.headlineMedium)
    s.error?.let { ErrorText(it) }
    if (s.codeUsedUp) {
        Text(stringResource(R.string.waiting_used_up), color = MaterialTheme.colorScheme.error)
        Button(onClick = { vm.newCode() }) { Text(stringResource(R.string.get_new_code)) }
    } else {
        Text(stringResource(if (s.purpose == ApprovalPurpose.SHARE_KEYS) R.string.waiting_body_keys else R.string.waiting_body_enroll))
        Text(s.code, style = MaterialTheme.typography.displayLarge)
        Text(stringResource(R.string.waiting_scan))
        QrImage(s.qrPayload)
        Text(stringResource(R.string.waiting_warning))
        Text(stringResource(R.string.waiting_runs_left, s.runsLeft))
        TextButton(onClick = { vm.newCode() }) { Text(stringResource(R.string.get_new_code)) }
    }
    // The email path exists for enrollment only (an email-only device asks a key holder).
    if (s.purpose == ApprovalPurpose.ENROLL) {
        TextButton(onClick = { vm.noAccessToTrustedDevice() }) { Text(stringResource(R.string.no_access)) }
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
    Image(bitmap.asImageBitmap(), contentDescription = stringResource(R.string.qr_description), modifier = Modifier.size(220.dp))
}

// ---- a trusted device ----------------------------------------------------------------

@Composable
fun Home(trusted: SetupScreen.Trusted, setup: SetupFlow, approvalsVm: ApprovalViewModel, devicesVm: DevicesViewModel) {
    val approvalsState by approvalsVm.client.collectAsState()
    val devicesState by devicesVm.client.collectAsState()
    val consoleVm: ConsoleViewModel = androidx.lifecycle.viewmodel.compose.viewModel()
    val consoleState by consoleVm.client.collectAsState()
    WithClient(approvalsState) { approvals ->
        val selected by approvals.selected.collectAsState()
        // "Trust this session?" is a screen of its own, reached from a request's details only.
        val open = selected
        if (open != null) {
            TrustThisSessionScreen(open, approvals)
            return@WithClient
        }
        // So is "Approve a web console sign-in?".
        val console = (consoleState as? ClientState.Ready)?.flow
        val consoleOpen = console?.selected?.collectAsState()?.value
        if (console != null && consoleOpen != null) {
            ApproveConsoleScreen(consoleOpen, console)
            return@WithClient
        }
        LazyColumn(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            if (trusted.emailOnly) {
                item {
                    Card {
                        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                            Text(stringResource(R.string.email_only_title), style = MaterialTheme.typography.titleMedium)
                            Text(stringResource(R.string.email_only_body))
                            Button(onClick = { setup.askForKeys() }) { Text(stringResource(R.string.ask_for_keys)) }
                        }
                    }
                }
            } else {
                item { PendingApprovals(approvals) }
                item { WithClient(consoleState) { c -> ConsoleSignIns(c) } }
            }
            item { WithClient(devicesState) { devices -> TrustedDevices(devices) } }
            item { Vaults() }
        }
    }
}

/** A list's title with its Refresh button. */
@Composable
fun SectionHeader(title: String, onRefresh: () -> Unit) {
    Row(verticalAlignment = Alignment.CenterVertically) {
        Text(title, style = MaterialTheme.typography.titleMedium, modifier = Modifier.weight(1f))
        TextButton(onClick = onRefresh) { Text(stringResource(R.string.refresh)) }
    }
}

/** "Pending approval": who asks, its flags, and "Review" (never a bare code field). */
@Composable
fun PendingApprovals(vm: ApprovalFlow) {
    val pending by vm.requests.collectAsState()
    val error by vm.listError.collectAsState()
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        SectionHeader(stringResource(R.string.pending_title)) { vm.refresh() }
        error?.let { ErrorText(it) }
        if (pending.isEmpty()) Text(stringResource(R.string.pending_none))
        pending.forEach { PendingRequestRow(it, vm) }
    }
}

@Composable
fun PendingRequestRow(request: PendingRequest, vm: ApprovalFlow) {
    Card {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(request.deviceName, style = MaterialTheme.typography.titleMedium)
            Text(stringResource(R.string.request_line, request.deviceKind.name, request.platform, request.origin))
            Button(onClick = { vm.open(request.requestId) }) { Text(stringResource(R.string.review)) }
        }
    }
}

private val timeFormat = DateTimeFormatter.ofLocalizedDateTime(FormatStyle.SHORT).withZone(ZoneId.systemDefault())

/**
 * "Trust this session?": the request's details, its flags, the warning, then the code the
 * person reads off the new device. Approve runs the PAKE; on this phone the BiometricPrompt
 * comes first. Deny always works.
 */
@Composable
fun TrustThisSessionScreen(s: TrustThisSession, vm: ApprovalFlow) {
    val request = s.request
    var code by remember(request.requestId) { mutableStateOf("") }
    var scanning by remember(request.requestId) { mutableStateOf(false) }
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(10.dp)) {
        Text(stringResource(R.string.trust_title), style = MaterialTheme.typography.headlineMedium)
        Text("${request.deviceName} (${request.deviceKind.name}, ${request.platform})")
        Text(stringResource(R.string.trust_from, request.origin, timeFormat.format(request.createdAt)))
        if (request.purpose == ApprovalPurpose.SHARE_KEYS) Text(stringResource(R.string.trust_asks_keys))
        if (request.purpose == ApprovalPurpose.NEW_ROOT) Text(stringResource(R.string.trust_new_root))
        if (s.emailOnly) Text("⚠ " + stringResource(R.string.trust_email_only), color = MaterialTheme.colorScheme.error)
        if (s.otherNetwork) Text("⚠ " + stringResource(R.string.trust_other_network), color = MaterialTheme.colorScheme.error)
        if (s.approvedWaitingForDevice || s.approved) {
            Text(stringResource(R.string.trust_approved))
            Button(onClick = vm::close) { Text(stringResource(R.string.done)) }
            return@Column
        }
        Text(s.warning, style = MaterialTheme.typography.bodyLarge)
        OutlinedTextField(
            code,
            { typed -> code = typed.filter { it.isDigit() || it == ' ' }.take(7) },
            label = { Text(stringResource(R.string.trust_code_label)) },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
            isError = s.error != null,
            enabled = !s.waitingForDevice,
        )
        if (s.waitingForDevice) Text(stringResource(R.string.trust_waiting))
        s.error?.let { ErrorText(it) }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { vm.approve(code) }, enabled = !s.waitingForDevice) { Text(stringResource(R.string.approve)) }
            OutlinedButton(onClick = { vm.deny() }, enabled = !s.waitingForDevice) { Text(stringResource(R.string.deny)) }
            TextButton(onClick = vm::close) { Text(stringResource(R.string.back)) }
        }
        // Only this app's own camera scanner feeds a QR approval: text pasted from
        // elsewhere is exactly what a phisher would send. The core refuses any QR but this
        // request's; the phone's user presence is asked inside the call.
        if (scanning && !s.waitingForDevice) {
            QrScanner(
                onScanned = { text ->
                    scanning = false
                    vm.approveScanned(text)
                },
                modifier = Modifier.fillMaxWidth().size(280.dp),
            )
            TextButton(onClick = { scanning = false }) { Text(stringResource(R.string.back)) }
        } else {
            TextButton(onClick = { scanning = true }, enabled = !s.waitingForDevice) {
                Text(stringResource(R.string.approve_qr))
            }
        }
    }
}

/** The browsers waiting for a web console approval (the event loop adds them), each with "Review". */
@Composable
fun ConsoleSignIns(vm: ConsoleFlow) {
    val waiting by vm.waiting.collectAsState(emptyList())
    val error by vm.listError.collectAsState()
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        SectionHeader(message(UserMessage("console.title"))) { vm.refresh() }
        error?.let { ErrorText(it) }
        if (waiting.isEmpty()) Text(message(UserMessage("console.none_waiting")))
        waiting.forEach { ConsoleRow(it, vm) }
    }
}

@Composable
fun ConsoleRow(session: ConsoleSession, vm: ConsoleFlow) {
    Card {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(session.userAgent, style = MaterialTheme.typography.titleSmall)
            Text(stringResource(R.string.trust_from, session.origin, timeFormat.format(session.createdAt)))
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { vm.open(session.id) }) { Text(stringResource(R.string.review)) }
                OutlinedButton(onClick = { vm.end(session.id) }) { Text(message(UserMessage("console.end"))) }
            }
        }
    }
}

/**
 * "Approve a web console sign-in?": which browser, from where and when (flagged from
 * another network), the warning, then the six digits the browser shows. Approve asks for
 * the BiometricPrompt first (inside the call); the browser gets no key.
 */
@Composable
fun ApproveConsoleScreen(s: ApproveConsole, vm: ConsoleFlow) {
    var code by remember(s.session.id) { mutableStateOf("") }
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(10.dp)) {
        Text(message(UserMessage("console.title")), style = MaterialTheme.typography.headlineMedium)
        Text(s.session.userAgent)
        Text(stringResource(R.string.trust_from, s.session.origin, timeFormat.format(s.session.createdAt)))
        if (s.otherNetwork) Text("⚠ " + message(UserMessage("console.other_network")), color = MaterialTheme.colorScheme.error)
        if (s.approved || s.ended) {
            if (s.approved) Text(message(UserMessage("console.approved")))
            s.error?.let { ErrorText(it) }
            Button(onClick = vm::close) { Text(stringResource(R.string.done)) }
            return@Column
        }
        Text(message(UserMessage("console.explain")))
        Text(s.warning, style = MaterialTheme.typography.bodyLarge)
        OutlinedTextField(
            code,
            { typed -> code = typed.filter { it.isDigit() || it == ' ' }.take(7) },
            label = { Text(message(UserMessage("console.code_label"))) },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
            isError = s.error != null,
            enabled = !s.working,
        )
        s.error?.let { ErrorText(it) }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { vm.approve(code) }, enabled = !s.working) { Text(message(UserMessage("console.approve"))) }
            OutlinedButton(onClick = { vm.end(s.session.id) }, enabled = !s.working) { Text(message(UserMessage("console.end"))) }
            TextButton(onClick = vm::close) { Text(stringResource(R.string.back)) }
        }
    }
}

/**
 * "My trusted devices": every device with its kind, platform, status, tier, who approved
 * it and when it was last seen; Rename (this device, or another from a key-holder web
 * device); Disable (optionally with the devices it approved in the last 30 days). When
 * this device may not rename or disable (email-only, or the server's rule), the reason is
 * shown.
 */
@Composable
fun TrustedDevices(vm: DevicesFlow) {
    val s by vm.screen.collectAsState()
    var alsoApproved by remember { mutableStateOf(false) }
    var renaming by remember { mutableStateOf<String?>(null) }
    var newName by remember { mutableStateOf("") }
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        SectionHeader(stringResource(R.string.devices_title)) { vm.refresh() }
        Text(stringResource(R.string.devices_count, s.active.size))
        s.error?.let { ErrorText(it) }
        if (s.lastDisabled.isNotEmpty()) Text(stringResource(R.string.devices_disabled_n, s.lastDisabled.size))
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(alsoApproved, { alsoApproved = it })
            Text(stringResource(R.string.devices_also_approved))
        }
        s.devices.forEach { d ->
            Card {
                Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Text(d.name, style = MaterialTheme.typography.titleSmall)
                    Text(stringResource(R.string.devices_line, d.kind.name, d.platform, d.status.name))
                    s.approverName(d)?.let { Text(stringResource(R.string.devices_approved_by, it)) }
                    Text(d.lastSeenAt?.let { stringResource(R.string.devices_last_seen, timeFormat.format(it)) }
                        ?: stringResource(R.string.devices_never_seen))
                    if (d.id == s.thisDeviceId) Text(stringResource(R.string.devices_this))
                    if (renaming == d.id) {
                        OutlinedTextField(newName, { newName = it }, label = { Text(stringResource(R.string.devices_new_name)) }, singleLine = true)
                        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                            Button(onClick = { vm.rename(d.id, newName); renaming = null }) { Text(stringResource(R.string.devices_rename_save)) }
                            TextButton(onClick = { renaming = null }) { Text(stringResource(R.string.cancel)) }
                        }
                    } else if (d.status != DeviceStatus.DISABLED) {
                        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                            OutlinedButton(onClick = { renaming = d.id; newName = d.name }) { Text(stringResource(R.string.devices_rename)) }
                            if (d.id != s.thisDeviceId) {
                                OutlinedButton(onClick = { vm.disable(d.id, alsoApproved) }) { Text(stringResource(R.string.devices_disable)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/** The local vaults (read again whenever the core reports a change). */
@Composable
fun Vaults() {
    val vm: VaultsViewModel = androidx.lifecycle.viewmodel.compose.viewModel()
    val state by vm.client.collectAsState()
    WithClient(state) { flow: VaultsFlow ->
        val s by flow.screen.collectAsState()
        Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(stringResource(R.string.vaults_title), style = MaterialTheme.typography.titleMedium)
            s.error?.let { ErrorText(it) }
            s.vaults.forEach { v -> Text(if (v.hasKey) v.name else stringResource(R.string.vault_no_key, v.name)) }
        }
    }
}
