import CWSGICore

/// WSGIImportScript: preload scripts into their application groups when a process starts.
package enum ImportScripts {
    package static func run(_ scripts: [ScriptTarget]) {
        for t in scripts {
            var group = t.applicationGroup ?? "%{GLOBAL}"
            if group == "%{GLOBAL}" { group = "" }
            if group.hasPrefix("%{") {
                Log.server(
                    APLOG_ERR, .importScriptFailed,
                    "WSGIImportScript '\(t.path)': application-group must be %{GLOBAL} or a name, not '\(group)'.")
                continue
            }
            guard let mtime = ScriptLoader.mtime(t.path) else {
                Log.server(
                    APLOG_ERR, .importScriptNotFound, "WSGIImportScript '\(t.path)' not found or unable to stat.")
                continue
            }
            let interp = Interpreters.acquire(group)
            _ = ScriptLoader.load(interp, path: t.path, mtime: mtime, reload: false) { level, id, message in
                Log.server(level, id, message)
            }
            Interpreters.release()
        }
    }
}
