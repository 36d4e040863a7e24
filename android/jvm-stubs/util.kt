package android.util
object Log { const val ERROR = 6; const val WARN = 5; const val INFO = 4; const val DEBUG = 3; const val VERBOSE = 2
  fun w(tag: String, msg: String): Int = 0; fun println(p: Int, tag: String, msg: String): Int = 0 }
