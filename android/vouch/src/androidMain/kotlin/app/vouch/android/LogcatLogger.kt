package app.vouch.android

import android.util.Log
import app.vouch.ffi.LogLevel
import app.vouch.ffi.VouchLogger
import app.vouch.ffi.setLogger

/** Routes the Rust core's `log` records to Logcat (tag "Vouch"). */
object LogcatLogger : VouchLogger {
    override fun log(level: LogLevel, target: String, message: String) {
        val priority = when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, "Vouch", "$target: $message")
    }

    /** Installs the logger (call once, e.g. in `Application.onCreate`). */
    fun install(maxLevel: LogLevel = LogLevel.INFO) = setLogger(this, maxLevel)
}
