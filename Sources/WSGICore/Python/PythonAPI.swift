import CWSGICore

/// Functions of the `mod_wsgi` Python module (subscribe_events, active_requests,
/// metrics …: Python/API/). Attributes set per interpreter are in InterpreterSetup.
enum PythonAPI {
    static func addFunctions(to module: PyObj, interp: Interpreter) {
        ModuleFunctions.add(to: module, interp: interp)
    }

    /// After the bootstrap made the `apache` module.
    static func finishSetup(_ interp: Interpreter) {
        ModuleFunctions.addApacheAttributes()
    }
}
