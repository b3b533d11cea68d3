import CModWSGI
import WSGICore

extension GlobalConfig {
    /// What Python is started and run with in every process of this configuration (a daemon
    /// group adds its python-home= and python-path=).
    var pythonSettings: PythonRuntime.Settings {
        var s = PythonRuntime.Settings()
        s.home = pythonHome
        s.pythonPath = pythonPath
        s.optimize = optimize
        s.hashSeed = hashSeed
        s.dontWriteBytecode = dontWriteBytecode
        s.warnings = warnings
        s.restrictStdout = restrictStdout
        s.restrictStdin = restrictStdin
        s.restrictSignal = restrictSignal
        s.caseSensitive = caseSensitive
        s.destroyInterpreter = destroyInterpreter
        s.serverMetrics = serverMetrics
        s.interpreterOptions.switchInterval = switchInterval
        s.interpreterOptions.perInterpreterGIL = perInterpreterGIL
        s.interpreterOptions.freeThreading = freeThreading
        s.interpreterOptions.interpreterOptions = interpreterOptions
        return s
    }
}
