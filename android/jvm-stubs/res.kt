package android.content.res
class Resources { fun getIdentifier(name: String, type: String, pkg: String): Int = 0 }
