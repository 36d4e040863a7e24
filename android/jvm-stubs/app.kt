package android.app
open class Application : android.content.Context()
