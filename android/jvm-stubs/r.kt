package app.vouch
object R { object string { const val error_unexpected = 1 } }
