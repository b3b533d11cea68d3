import Foundation
import SystemCalls
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A pipe: (read end, write end).
private func makePipe(nonBlocking: Bool = false) -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    precondition(pipe(&fds) == 0)
    if nonBlocking { _ = fcntl(fds[0], F_SETFL, O_NONBLOCK) }
    return (fds[0], fds[1])
}

final class SystemCallsTests: XCTestCase {
    func testSyscallNamesTheCallAndWhatItWasAppliedTo() {
        do {
            try syscall("unlink", "/nonexistent/x") { unlink("/nonexistent/x") }
            XCTFail("no error")
        } catch {
            XCTAssertEqual(error, SystemError("unlink", errno: ENOENT, subject: "/nonexistent/x"))
            XCTAssertEqual(error.description, "unlink /nonexistent/x: No such file or directory")
        }
    }

    func testWouldBlockIsNilOnAnEmptyNonBlockingPipe() throws {
        let fds = makePipe(nonBlocking: true)
        defer { close(fds.0); close(fds.1) }
        var byte: UInt8 = 0
        XCTAssertNil(try syscallUnlessWouldBlock("read") { read(fds.0, &byte, 1) })
        try writeAll(fds.1, [42])
        XCTAssertEqual(try syscallUnlessWouldBlock("read") { read(fds.0, &byte, 1) }, 1)
        XCTAssertEqual(byte, 42)
    }

    func testWholeWritesAndReadsThroughAPipe() throws {
        let (readEnd, writeEnd) = makePipe()
        defer { close(readEnd) }
        // More than a pipe holds (64 KiB): the writer is written to in several calls.
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let writer = Thread {
            try? writeAll(writeEnd, bytes)
            close(writeEnd)
        }
        writer.start()
        XCTAssertEqual(try readAll(readEnd), bytes)
    }

    func testReadAllStopsAtTheLimit() throws {
        let fds = makePipe()
        defer { close(fds.0); close(fds.1) }
        try writeAll(fds.1, Array("0123456789".utf8))
        XCTAssertEqual(try readAll(fds.0, limit: 4), Array("0123".utf8))
    }

    func testReadFileReadsProcFilesWhoseSizeIsZero() throws {
        let statm = try XCTUnwrap(readFile("/proc/self/statm"))
        XCTAssertFalse(statm.isEmpty)
        XCTAssertNil(readFile("/nonexistent/x"))
    }

    func testReadFileOfAKnownSizeDoesNotGrowItsBuffer() throws {
        // setup-server reads the 12 MB module; growing the buffer to find the end doubled it.
        let path = NSTemporaryDirectory() + "readfile-\(getpid())"
        let size = 4 << 20
        try Data(repeating: 7, count: size).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let bytes = try XCTUnwrap(readFile(path))
        XCTAssertEqual(bytes.count, size)
        XCTAssertLessThan(bytes.capacity, size + size / 4)
    }

    func testUnixAddressRefusesAPathLongerThanSunPath() {
        XCTAssertNotNil(unixAddress(String(repeating: "a", count: maximumSocketPath)))
        XCTAssertNil(unixAddress(String(repeating: "a", count: maximumSocketPath + 1)))
    }

    func testWaitFDTimesOut() throws {
        let fds = makePipe()
        defer { close(fds.0); close(fds.1) }
        let started = monotonicMicros()
        XCTAssertFalse(try waitFD(fds.0, Int16(POLLIN), timeoutMicros: 50_000))
        XCTAssertGreaterThanOrEqual(monotonicMicros() - started, 50_000)
        try writeAll(fds.1, [1])
        XCTAssertTrue(try waitFD(fds.0, Int16(POLLIN), timeoutMicros: 50_000))
    }
}
