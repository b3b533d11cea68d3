import CWSGICore

/// One Python interpreter: the main one (%{GLOBAL}) or a sub-interpreter per
/// application group. Holds what the module caches per interpreter.
package final class Interpreter {
    let name: String
    let state: OpaquePointer  // PyInterpreterState*
    let isMain: Bool
    /// Serialises loading of WSGI scripts (taken without the GIL held).
    let scriptLock = Lock()
    /// Loaded script modules by path → (module, mtime).
    var scripts: [String: (module: PyObj, mtime: Int)] = [:]
    /// Cached Python objects for building environ.
    var wsgiVersion: PyObj!
    package var apacheVersion: PyObj!
    package var modWSGIVersion: PyObj!
    /// The mod_wsgi module's per-interpreter state (subscribers, active requests).
    var api: InterpreterAPI?
    /// Why a script failed to load, kept for the next response when its loader asked for it
    /// (mod_wsgi-express's handler in debug mode): the lines of the log report, by path.
    var loadFailureReports: [String: [String]] = [:]
    /// Its GC telemetry (WSGITelemetryService), once the reporter runs in this process.
    var gcTelemetry: TelemetryGC?
    /// It has a GIL of its own (WSGIPerInterpreterGIL On).
    var ownGIL = false

    init(name: String, state: OpaquePointer, isMain: Bool) {
        self.name = name
        self.state = state
        self.isMain = isMain
    }
}

/// The thread states of one OS thread: one per interpreter it has entered.
/// Sub-interpreters cannot use PyGILState_*, so they are kept by hand.
final class ThreadStates {
    var states: [(OpaquePointer, UnsafeMutablePointer<PyThreadState>)] = []
    let threadID: Int
    var requests = 0
    /// mod_wsgi.request_data() of the request this thread is running (nil between requests).
    var requestData: PyObj?
    /// That request's wsgi.errors log: where sys.stdout and sys.stderr write meanwhile.
    var errorLog: ErrorLog?
    init(threadID: Int) { self.threadID = threadID }
}

package enum Interpreters {
    nonisolated(unsafe) private static var table: [String: Interpreter] = [:]
    /// The same, in the order they were made (the main one first).
    nonisolated(unsafe) private static var made: [Interpreter] = []
    private static let lock = Lock()
    nonisolated(unsafe) private static var key = pthread_key_t()
    nonisolated(unsafe) private static var nextThreadID = 0
    nonisolated(unsafe) static var main: Interpreter?

    // MARK: interpreters with a GIL of their own (WSGIPerInterpreterGIL On)

    /// Some interpreter of this process may get a GIL of its own: set before Python starts,
    /// never changed after. Then two interpreters run Python at the same time, and what the
    /// module keeps for the whole process (counters, caches, its Python types) is no longer
    /// serialised by one GIL: see `shared` and NativeType.
    nonisolated(unsafe) static var parallel = false
    nonisolated(unsafe) private static var ownGIL: Set<OpaquePointer> = []
    private static let sharedLock = Lock()

    /// Whether the interpreter (a PyInterpreterState) has a GIL of its own.
    static func hasOwnGIL(_ state: OpaquePointer) -> Bool {
        parallel && lock.withLock { ownGIL.contains(state) }
    }

    /// Runs `body` on state the whole process shares: under a lock when interpreters run in
    /// parallel, as it is without one (the one GIL serialises it) otherwise.
    @inline(__always)
    static func shared<T>(_ body: () -> T) -> T {
        guard parallel else { return body() }
        return sharedLock.withLock(body)
    }

    /// Called right after Py_InitializeFromConfig, on the initialising thread.
    static func registerMain(_ tstate: UnsafeMutablePointer<PyThreadState>) {
        // The record goes with its thread: threads an application starts and that call into
        // the module (mod_wsgi.request_data()) each left one behind (LeakSanitizer).
        pthread_key_create(&key) { p in
            if let p { Unmanaged<ThreadStates>.fromOpaque(p).release() }
        }
        let interp = Interpreter(name: "", state: PyThreadState_GetInterpreter(tstate), isMain: true)
        main = interp
        table[""] = interp
        made = [interp]
        let ts = threadStates()
        ts.states.append((interp.state, tstate))
        InterpreterSetup.prepare(interp)
    }

    /// This OS thread's record (made on first use).
    static func threadStates() -> ThreadStates {
        if let p = pthread_getspecific(key) {
            return Unmanaged<ThreadStates>.fromOpaque(p).takeUnretainedValue()
        }
        let ts = lock.withLock {
            nextThreadID += 1
            return ThreadStates(threadID: nextThreadID)
        }
        pthread_setspecific(key, Unmanaged.passRetained(ts).toOpaque())
        return ts
    }

    /// Takes the GIL in the named interpreter ("" is the main one), creating it on first
    /// use. Balanced by `release()`. Called without the GIL.
    package static func acquire(_ name: String) -> Interpreter {
        let ts = threadStates()
        let found = lock.withLock { table[name] }
        let interp = found ?? InterpreterFactory.create(name) ?? main!
        enter(interp, ts)
        return interp
    }

    /// Called on the factory thread with the GIL held in the main interpreter.
    static func createOnThisThread(_ name: String) -> Interpreter? {
        let existing = lock.withLock { table[name] }
        if let existing { return existing }
        let mainState = PyThreadState_Get()
        var ownGIL = InterpreterOptions.forInterpreter(name).perInterpreterGIL
        if ownGIL && wsgi_python_free_threading_build() != 0 && InterpreterOptions.freeThreadingHere {
            Log.server(
                APLOG_WARNING, .perInterpreterGILSkipped,
                "Skipping per-interpreter GIL for interpreter '\(name)': free-threading is active in this process so there is no GIL to allocate per interpreter."
            )
            ownGIL = false
        }
        guard let tstate = wsgi_new_interpreter(ownGIL ? 1 : 0) else {
            Log.server(
                APLOG_ERR, .interpreterCreateFailed,
                "Could not create the Python sub-interpreter '\(name)'; using the main interpreter.")
            PyThreadState_Swap(mainState)
            return nil
        }
        let interp = Interpreter(name: name, state: PyThreadState_GetInterpreter(tstate), isMain: false)
        interp.ownGIL = ownGIL
        if ownGIL { lock.withLock { _ = Self.ownGIL.insert(interp.state) } }
        // The factory thread's state stays alive: it is this interpreter's main thread.
        InterpreterSetup.prepare(interp)
        InterpreterOptions.applyToSubInterpreter(name, ownGIL: ownGIL)
        if ownGIL {
            // Its GIL is not the main interpreter's: let go of it and take the main one back.
            _ = PyEval_SaveThread()
            PyEval_RestoreThread(mainState!)
        } else {
            PyThreadState_Swap(mainState)
        }
        lock.withLock {
            table[name] = interp
            made.append(interp)
        }
        Log.server(APLOG_INFO, .interpreterCreated, "Create interpreter '\(name)'\(ownGIL ? " with its own GIL" : "").")
        return interp
    }

    private static func enter(_ interp: Interpreter, _ ts: ThreadStates) {
        for (s, t) in ts.states where s == interp.state {
            PyEval_RestoreThread(t)
            return
        }
        // The first thread state made on a thread is the one PyGILState_* binds to it:
        // make it the main interpreter's, so C extensions using PyGILState_Ensure from
        // this thread land in the main interpreter, never in a sub-interpreter.
        if ts.states.isEmpty, !interp.isMain, let main {
            ts.states.append((main.state, PyThreadState_New(main.state)))
        }
        let t = PyThreadState_New(interp.state)!
        ts.states.append((interp.state, t))
        PyEval_RestoreThread(t)
    }

    package static func release() {
        _ = PyEval_SaveThread()
    }

    /// The names of the interpreters made so far ("" is the main one).
    static func names() -> [String] { lock.withLock { Array(table.keys) } }

    /// The name of the interpreter the calling thread is in (GIL held); "" for the main one.
    package static var currentName: String {
        let state = PyThreadState_GetInterpreter(PyThreadState_Get())
        return lock.withLock { table.values.first { $0.state == state }?.name } ?? ""
    }

    /// The interpreters made so far, the main one first.
    static func all() -> [Interpreter] { lock.withLock { made } }

    /// Runs `body` with the GIL of an interpreter that exists (from a thread that holds no GIL).
    static func with<T>(_ interp: Interpreter, _ body: () -> T) -> T {
        enter(interp, threadStates())
        defer { release() }
        return body()
    }

    /// At process exit, on the thread that initialised Python: end the sub-interpreters
    /// (running their atexit functions), then finalize the main interpreter.
    static func destroyAll() {
        guard let main, let mainState = PythonRuntime.mainThreadState else { return }
        let subs = lock.withLock { table.values.filter { !$0.isMain } }
        PyEval_RestoreThread(mainState)
        for interp in subs {
            let mine = PyThreadState_New(interp.state)!
            if interp.ownGIL {
                // Its GIL is its own: let go of the main one and take it.
                _ = PyEval_SaveThread()
                PyEval_RestoreThread(mine)
            } else {
                PyThreadState_Swap(mine)
            }
            // Py_EndInterpreter wants to be the last thread state of the interpreter.
            var t = PyInterpreterState_ThreadHead(interp.state)
            while let cur = t {
                t = PyThreadState_Next(cur)
                if cur != mine { PyThreadState_Clear(cur); PyThreadState_Delete(cur) }
            }
            InterpreterSetup.shutdown(interp)
            EnvironKeys.release(interp.state)
            Py_EndInterpreter(mine)
            if interp.ownGIL {
                // Its GIL went with it: take the main interpreter's again.
                PyEval_RestoreThread(mainState)
            } else {
                // The GIL is still ours: carry on in the main interpreter.
                PyThreadState_Swap(mainState)
            }
            Log.server(APLOG_INFO, .interpreterDestroyed, "Destroy interpreter '\(interp.name)'.")
        }
        InterpreterSetup.shutdown(main)
        var t = PyInterpreterState_ThreadHead(main.state)
        while let cur = t {
            t = PyThreadState_Next(cur)
            if cur != mainState { PyThreadState_Clear(cur); PyThreadState_Delete(cur) }
        }
        EnvironKeys.release(main.state)
        Py_FinalizeEx()
        EnvironKeys.forget()
        Log.server(APLOG_INFO, .pythonFinalized, "Python has shutdown.")
        lock.withLock {
            table = [:]
            made = []
        }
        Self.main = nil
    }
}

/// Creates sub-interpreters on one long-lived thread of its own, so that in every
/// interpreter threading.main_thread() is a thread that initialised it and stays alive,
/// never a request thread (asgiref and others check it).
enum InterpreterFactory {
    private static let lock = Lock()
    private static let condition = Condition()
    nonisolated(unsafe) private static var pending: [String] = []
    nonisolated(unsafe) private static var results: [String: Interpreter?] = [:]
    nonisolated(unsafe) private static var started = false

    static let factoryStackSize = 2 * 1024 * 1024

    static func start() {
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        // Creating an interpreter runs only its start-up imports: 2 MB, not RLIMIT_STACK's
        // 8 MB, which would count against a daemon's memory-limit (RLIMIT_DATA).
        pthread_attr_setstacksize(&attr, factoryStackSize)
        pthread_create(
            &thread, &attr,
            { _ in
                InterpreterFactory.loop()
                return nil
            }, nil)
        pthread_attr_destroy(&attr)
        started = true
    }

    /// Asks the factory thread for the interpreter and waits (without the GIL).
    static func create(_ name: String) -> Interpreter? {
        guard started else { return nil }
        return lock.withLock {
            if !pending.contains(name) && results[name] == nil { pending.append(name) }
            condition.broadcast()
            while results[name] == nil { condition.wait(lock) }
            return results[name]!
        }
    }

    private static func loop() {
        while true {
            let name = lock.withLock {
                while pending.isEmpty { condition.wait(lock) }
                return pending.removeFirst()
            }
            let g = PyGILState_Ensure()
            let interp = Interpreters.createOnThisThread(name)
            PyGILState_Release(g)
            lock.withLock {
                results[name] = .some(interp)
                condition.broadcast()
            }
        }
    }
}
