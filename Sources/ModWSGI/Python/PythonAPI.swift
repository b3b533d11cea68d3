import CModWSGI

/// Functions of the `mod_wsgi` Python module (subscribe_events, active_requests,
/// metrics … plug in here). Attributes set per interpreter are in InterpreterSetup.
enum PythonAPI {
    static func addFunctions(to module: PyObj) {}
}
