import CWSGICore

/// What a daemon process is started with, from the Apache parent's configuration: its group,
/// its number in the group, the group's listening socket, the Python settings (the group's
/// python-home= and python-path= applied), the scripts to preload, and the server's facts.
/// The same value whether the process goes on in the process Apache forked or in the
/// application's Python executable; in the latter it travels in the start record.
package struct DaemonStart: Codable {
    package var group: DaemonGroupConfig
    /// 1-based number of the process in its group.
    package var instance: Int
    package var listener: Int32
    package var parentPid: Int32
    package var settings: PythonRuntime.Settings
    package var preload: [ScriptTarget]
    package var facts: HostFacts
    /// WSGITelemetryService & co.: where the process sends its telemetry.
    package var telemetry: TelemetryConfig
    /// Its word in the drain and health board (LifecycleBoard; -1: none).
    package var lifecycleIndex = -1

    package init(
        group: DaemonGroupConfig, instance: Int, listener: Int32, parentPid: Int32,
        settings: PythonRuntime.Settings, preload: [ScriptTarget], facts: HostFacts, telemetry: TelemetryConfig
    ) {
        self.group = group
        self.instance = instance
        self.listener = listener
        self.parentPid = parentPid
        self.settings = settings
        self.preload = preload
        self.facts = facts
        self.telemetry = telemetry
    }
}

/// A daemon process that runs the application's Python executable: what it needs besides its
/// DaemonStart to be the process Apache would have forked. Written by the Apache module into a
/// memfd that the exec keeps open (its number on the command line), read by the daemon
/// runtime's `run()` (WSGIDaemon).
package struct DaemonExecRecord: Codable {
    package var start: DaemonStart
    /// How Apache would have written the error log lines (ErrorLogWriter, in WSGIDaemon).
    package var log: ErrorLogSettings
    /// The metrics board's memfd (-1: no WSGIMetricsURL).
    package var metricsBoard: Int32 = -1
    /// The drain and health board's memfd (-1: neither WSGIHealthURL nor WSGIDrainOnTerm).
    package var lifecycleBoard: Int32 = -1
    /// Apache's scoreboard (server-metrics=On), mapped again from a descriptor of its shared
    /// memory: the descriptor, where the global record starts in it, and the segment's length.
    package var scoreboard: Int32 = -1
    package var scoreboardOffset = 0
    package var scoreboardLength = 0
    /// What `ps` shows: display-name= or, as a forked daemon, Apache's own command line (its
    /// arguments); and the name of the main thread (`comm`, at most 15 bytes).
    package var title: [String]
    package var threadName: String
    /// The error log of each server in Apache's list by its index (Log's `server`): the
    /// descriptor of a <VirtualHost>'s own ErrorLog, inherited; -1 where lines go to the main
    /// server's (standard error). A daemon's lines about a request go to the log of the server
    /// that took it, as mod_wsgi 6.0.1 (in the main server's ErrorLogFormat and LogLevel).
    package var serverLogs: [Int32] = []
    /// Environment variables set only to start Python (PYTHONHASHSEED for WSGIPythonHashSeed),
    /// which embedded Python would not show the application: the runtime removes them.
    package var addedEnvironment: [String] = []

    package init(start: DaemonStart, log: ErrorLogSettings, title: [String], threadName: String) {
        self.start = start
        self.log = log
        self.title = title
        self.threadName = threadName
    }
}

/// What Apache's error log of the main server is, as the daemon runtime must write it.
package struct ErrorLogSettings: Codable {
    /// The module's log level there (LogLevel, or LogLevel wsgi:LEVEL): APLOG_*.
    package var level: Int32 = 4
    /// ErrorLogFormat, as written in the configuration (nil: Apache's default format).
    package var format: String?
    /// `ErrorLog syslog[:facility]`: the facility (LOG_*) to send lines to; nil: a file or pipe,
    /// which the process has as its standard error.
    package var syslogFacility: Int32?
    /// The ident syslog lines carry (Apache's is its argv[0]).
    package var syslogIdent = "httpd"
    /// For %v / %V: the main server's name.
    package var serverName = ""

    package init() {}
}
