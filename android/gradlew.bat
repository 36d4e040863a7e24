@rem Gradle wrapper launcher (Windows). Runs the Gradle version pinned in
@rem gradle\wrapper\gradle-wrapper.properties through gradle\wrapper\gradle-wrapper.jar, which is
@rem not committed: make it once with `gradle wrapper --gradle-version 8.11.1` (docs/MOBILE.md).
@echo off
setlocal
set APP_HOME=%~dp0
set JAR=%APP_HOME%gradle\wrapper\gradle-wrapper.jar
if not exist "%JAR%" (
  echo gradlew: %JAR% is missing; run "gradle wrapper --gradle-version 8.11.1" in %APP_HOME% once 1>&2
  exit /b 1
)
set JAVACMD=java
if defined JAVA_HOME set JAVACMD=%JAVA_HOME%\bin\java.exe
"%JAVACMD%" -Xmx64m -Xms64m %JAVA_OPTS% %GRADLE_OPTS% "-Dorg.gradle.appname=gradlew" -classpath "%JAR%" org.gradle.wrapper.GradleWrapperMain %*
exit /b %ERRORLEVEL%
