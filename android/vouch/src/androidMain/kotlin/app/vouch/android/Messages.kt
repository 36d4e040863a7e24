package app.vouch.android

import android.annotation.SuppressLint
import android.content.Context
import app.vouch.UserMessage

/**
 * The text of [message] from the string resources (`res/values/strings.xml` of this
 * library, translated in the app's `values-<lang>/`): the key `error.wrong_code` is
 * `R.string.error_wrong_code`, with [UserMessage.arguments] as `%1$s`…. A key without a
 * resource (a newer library with an older translation) says "Something went wrong".
 */
@SuppressLint("DiscouragedApi") // keys are data (shared with iOS), looked up by name once per message
fun Context.text(message: UserMessage): String {
    val id = resources.getIdentifier(message.resourceName, "string", packageName)
        .takeIf { it != 0 }
        ?: resources.getIdentifier(message.resourceName, "string", "app.vouch")
    if (id == 0) return getString(app.vouch.R.string.error_unexpected)
    return if (message.arguments.isEmpty()) getString(id) else getString(id, *message.arguments.toTypedArray())
}
