public import Foundation

/// Runs the repository's scripts (Python interop peers, generators) from tests.
public enum Scripts {
    /// The repository root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A new empty directory under the system's temporary directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `arguments[0]` (looked up on PATH) in the repository root to completion,
    /// polling instead of blocking so that servers under test keep their threads.
    public static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        let log = try temporaryDirectory().appendingPathComponent("output.log")
        defer { try? FileManager.default.removeItem(at: log.deletingLastPathComponent()) }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// `python3 arguments...`; see ``run(_:)``.
    public static func runPython(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await run(["python3"] + arguments)
    }

    /// A long-running Python process whose first stdout line is `listening on PORT`;
    /// it ends when its stdin closes (``stop()``).
    public final class PythonServer {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        public private(set) var port = 0

        public init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + arguments
            process.currentDirectoryURL = Scripts.repositoryRoot
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            var line: [UInt8] = []
            while true {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                guard let first = byte.first else { break }
                if first == UInt8(ascii: "\n") { break }
                line.append(first)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("listening on "), let port = Int(text.dropFirst("listening on ".count)) else {
                stop()
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "python server did not start: \(text)"])
            }
            self.port = port
        }

        public func stop() {
            try? input.fileHandleForWriting.close()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { process.terminate() }
        }
    }
}
