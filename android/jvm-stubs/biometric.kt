package androidx.biometric
class BiometricManager { object Authenticators { const val BIOMETRIC_STRONG = 15; const val BIOMETRIC_WEAK = 255; const val DEVICE_CREDENTIAL = 32768 }
  fun canAuthenticate(a: Int): Int = 0
  companion object { const val BIOMETRIC_SUCCESS = 0; fun from(c: android.content.Context) = BiometricManager() } }
class BiometricPrompt(a: androidx.fragment.app.FragmentActivity, e: java.util.concurrent.Executor, cb: AuthenticationCallback) {
  abstract class AuthenticationCallback { open fun onAuthenticationSucceeded(result: AuthenticationResult) {}; open fun onAuthenticationError(errorCode: Int, errString: CharSequence) {}; open fun onAuthenticationFailed() {} }
  class AuthenticationResult
  class PromptInfo { class Builder { fun setTitle(t: CharSequence) = this; fun setSubtitle(t: CharSequence) = this; fun setAllowedAuthenticators(a: Int) = this; fun setConfirmationRequired(b: Boolean) = this; fun build() = PromptInfo() } }
  fun authenticate(p: PromptInfo) {}; fun cancelAuthentication() {} }
