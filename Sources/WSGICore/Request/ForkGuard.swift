import CWSGICore

/// An application that calls os.fork() in a request and lets the child return (or raise)
/// hands the server's own code to a copy of this process: the copy would send a second
/// response on the same connection, then go on as a stray Apache child or daemon process
/// (serving requests on an inherited listener, never stopped with the server). mod_wsgi lets it.
/// Here the copy is ended the moment it is back in the module, before it writes anything;
/// the parent's request goes on untouched.
package enum ForkGuard {
    /// Ends this process with _exit(0) (no atexit handlers, no buffers of the parent's
    /// flushed) when it is not `owner`, the process that began the request.
    @inline(__always)
    static func check(_ owner: pid_t, _ channel: RequestChannel, _ scriptPath: String) {
        let pid = wsgi_pid()
        if pid == owner { return }
        channel.log(
            APLOG_ERR, .forkedChildReturned,
            "The application forked this process from pid \(owner) in a request to '\(scriptPath)', and the child returned to mod_wsgi; ending the child. A child made with os.fork() must end with os._exit() (or exec)."
        )
        _exit(0)
    }
}
