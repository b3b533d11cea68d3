public enum Features {
    /// THE switch for daemon mode (issue 4). While false, start-server/setup-server serve in
    /// embedded mode and the daemon-only options are refused with "not supported yet".
    /// Flipping it to true makes daemon mode the default (as in mod_wsgi-express), enables the
    /// WSGIDaemonProcess branch of templates/httpd.conf.mustache and accepts those options.
    public static let daemonModeAvailable = true

    public static let version = "4.9.4"
}

func daemonHelp(_ text: String) -> String {
    Features.daemonModeAvailable ? text : text + " [daemon mode: not supported yet]"
}

func notYetHelp(_ text: String) -> String { text + " [not supported yet]" }
