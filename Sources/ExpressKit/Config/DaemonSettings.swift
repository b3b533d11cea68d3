/// WSGIDaemonProcess settings (the defaults are those of `ServerOptions`, 4.9's).
public struct DaemonSettings: Equatable {
    public var maximumRequests: Int
    public var startupTimeout: Int
    public var shutdownTimeout: Int
    public var restartInterval: Int
    public var cpuTimeLimit: Int
    public var gracefulTimeout: Int
    public var evictionTimeout: Int
    public var deadlockTimeout: Int
    public var inactivityTimeout: Int
    public var requestTimeout: Int
    public var interruptTimeout: Int = 0
    public var pythonExecutable: String? = nil
    public var pythonThreads: Int? = nil
    public var connectTimeout: Int
    public var socketTimeout: Int
    public var queueTimeout: Int
    public var listenBacklog: Int
    public var sendBufferSize: Int
    public var receiveBufferSize: Int
    public var headerBufferSize: Int
    public var responseBufferSize: Int
    public var responseSocketTimeout: Int
    public var socketPrefix: String
    public var ignoreActivity: [String]
}

extension DaemonSettings {
    init(_ o: ServerOptions, socketPrefix: String) {
        maximumRequests = o.maximumRequests
        startupTimeout = o.startupTimeout
        shutdownTimeout = o.shutdownTimeout
        restartInterval = o.restartInterval
        cpuTimeLimit = o.cpuTimeLimit
        gracefulTimeout = o.gracefulTimeout
        evictionTimeout = o.evictionTimeout
        deadlockTimeout = o.deadlockTimeout
        inactivityTimeout = o.inactivityTimeout
        requestTimeout = o.requestTimeout
        interruptTimeout = o.interruptTimeout
        pythonExecutable = o.pythonExecutable
        pythonThreads = o.pythonThreads
        connectTimeout = o.connectTimeout
        socketTimeout = o.socketTimeout
        queueTimeout = o.queueTimeout
        listenBacklog = o.daemonBacklog
        sendBufferSize = o.sendBufferSize
        receiveBufferSize = o.receiveBufferSize
        headerBufferSize = o.headerBufferSize
        responseBufferSize = o.responseBufferSize
        responseSocketTimeout = o.responseSocketTimeout
        self.socketPrefix = socketPrefix
        ignoreActivity = o.ignoreActivity
    }
}
