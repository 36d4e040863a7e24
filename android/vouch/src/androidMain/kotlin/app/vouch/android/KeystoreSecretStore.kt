package app.vouch.android

import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import app.vouch.ffi.SecretStore
import app.vouch.ffi.SecretStoreException
import java.security.KeyStore
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * [SecretStore] over the Android Keystore: one AES-256-GCM key per label, created
 * non-exportable inside the TEE (StrongBox when the device has one and runs API 28+).
 * Keystore keys are never in a backup: the app must exclude the Vouch profile from backups
 * too (`allowBackup=false` in the sample), or a restored database has no key
 * (`VouchError.KeyStore`). Rust hands it the
 * database key to wrap; the wrapped blob lives in the Vouch database.
 */
class KeystoreSecretStore(private val preferStrongBox: Boolean = true) : SecretStore {
    private val keyStore = KeyStore.getInstance(PROVIDER).apply { load(null) }

    private fun key(label: String, create: Boolean): SecretKey? {
        (keyStore.getKey(label, null) as? SecretKey)?.let { return it }
        if (!create) return null
        fun generate(strongBox: Boolean): SecretKey {
            val builder = KeyGenParameterSpec.Builder(label, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
            // setIsStrongBoxBacked exists from API 28 only: calling it below throws
            // NoSuchMethodError, an Error no `catch (e: Exception)` sees. Never call it there.
            if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) builder.setIsStrongBoxBacked(true)
            return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER).apply { init(builder.build()) }.generateKey()
        }
        val strongBox = preferStrongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P
        if (!strongBox) return generate(false)
        return try {
            generate(true)
        } catch (e: Exception) {
            // StrongBoxUnavailableException (API 28+, a ProviderException): no StrongBox
            // on this device; the key lives in the TEE instead.
            generate(false)
        }
    }

    override fun wrapSecret(label: String, secret: ByteArray): ByteArray = guard {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, key(label, create = true))
        cipher.updateAAD(label.toByteArray())
        val iv = cipher.iv
        byteArrayOf(iv.size.toByte()) + iv + cipher.doFinal(secret)
    }

    override fun unwrapSecret(label: String, wrapped: ByteArray): ByteArray = guard {
        val key = key(label, create = false) ?: throw SecretStoreException.KeyNotFound()
        if (wrapped.isEmpty()) throw SecretStoreException.AuthenticationFailed()
        val ivLen = wrapped[0].toInt()
        if (ivLen <= 0 || wrapped.size < 1 + ivLen + 16) throw SecretStoreException.AuthenticationFailed()
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 1, ivLen))
        cipher.updateAAD(label.toByteArray())
        try {
            cipher.doFinal(wrapped, 1 + ivLen, wrapped.size - 1 - ivLen)
        } catch (e: AEADBadTagException) {
            throw SecretStoreException.AuthenticationFailed()
        }
    }

    override fun deleteSecret(label: String) = guard {
        if (keyStore.containsAlias(label)) keyStore.deleteEntry(label)
    }

    private inline fun <T> guard(block: () -> T): T = try {
        block()
    } catch (e: SecretStoreException) {
        throw e
    } catch (e: Exception) {
        throw SecretStoreException.Unavailable(e.javaClass.simpleName)
    }

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
    }
}
