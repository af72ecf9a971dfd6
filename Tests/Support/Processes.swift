public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The executables this package builds, run as real processes by the tests.
public enum Binaries {
    /// The directory holding the built executables (next to the test bundle).
    public static let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    /// The path of executable `name`; throws when it was not built.
    public static func path(_ name: String) throws -> URL {
        let binary = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(binary.path) is missing; build with swift build --build-tests"])
        }
        return binary
    }

    /// A loopback port that was free a moment ago, for services whose peers must know
    /// its address before it starts (the registry names the router, the router the registry).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, length) } }
        guard bound == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot bind a loopback port"]) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs executable `name` to completion, polling so that servers in this process keep their threads.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) async throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = try path(name)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        let logs = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: logs) }
        let out = logs.appendingPathComponent("stdout"), err = logs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        try outHandle.close()
        try errHandle.close()
        return (process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

/// A long-running service executable (registry, decision, router) on a free loopback port.
public final class ServiceProcess: @unchecked Sendable {
    public let process = Process()
    private let output = Pipe()
    private let log = LogBuffer()
    public private(set) var port = 0

    /// Starts `name` with `arguments` (which should listen on 127.0.0.1:0) and waits
    /// for the `listening on 127.0.0.1:PORT` line every service prints once it listens
    /// (or the `address=127.0.0.1:PORT` of its log).
    public init(_ name: String, _ arguments: [String]) throws {
        process.executableURL = try Binaries.path(name)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"(listening on |(?<![_a-z])address=)127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)!
                log.append(text)
                // Keep draining the pipe so that a chatty service never blocks on a full pipe.
                output.fileHandleForReading.readabilityHandler = { [log] handle in
                    let data = handle.availableData
                    if !data.isEmpty { log.append(String(decoding: data, as: UTF8.self)) }
                }
                return
            }
        }
        process.terminate()
        process.waitUntilExit()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "\(name) did not start: \(text)"])
    }

    public var endpoint: String { "127.0.0.1:\(port)" }

    /// What the process logged so far.
    public var logText: String { log.text }

    /// The port of a `KEY=127.0.0.1:PORT` log line (e.g. `admin_address`), waiting up to 10 s for it.
    public func loggedPort(_ key: String) async throws -> Int {
        for _ in 0..<500 {
            if let range = logText.range(of: "\(key)=127\\.0\\.0\\.1:(\\d+)", options: .regularExpression) {
                return Int(logText[range].split(separator: ":").last!)!
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no \(key) in the log: \(logText)"])
    }

    /// SIGKILL: no chance to flush anything.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }

    /// SIGTERM: drain, flush, exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Output collected from a process's pipe while tests run.
final class LogBuffer: Sendable {
    private let contents = Mutex("")
    var text: String { contents.withLock { $0 } }
    func append(_ text: String) { contents.withLock { $0 += text } }
}
