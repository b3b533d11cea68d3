import CWSGICore

extension ScriptLoader {
    /// A script whose mtime could not be read (removed, renamed away, its directory made
    /// unreadable) counts as changed, as in mod_wsgi's reload check: every interpreter that
    /// has it loaded forgets the mtime it was loaded with, so the next request that finds the
    /// file again compiles it anew, even when it was put back with its old mtime. Called
    /// without the GIL, on the request's error path only.
    package static func forgetMtime(_ path: String) {
        guard PythonRuntime.initialized else { return }
        let key = PythonRuntime.settings.caseSensitive ? path : path.lowercased()
        for name in Interpreters.names() {
            let interp = Interpreters.acquire(name)
            if let cached = interp.scripts[key] { interp.scripts[key] = (cached.module, -1) }
            Interpreters.release()
        }
    }
}
