package android.system
object SystemCleaner { fun cleaner(): java.lang.ref.Cleaner = java.lang.ref.Cleaner.create() }
