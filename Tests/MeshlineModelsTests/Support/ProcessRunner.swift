import Foundation

/// Runs the repository's scripts and Python from tests.
enum ProcessRunner {
    /// The repository root, found from this file's path.
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // MeshlineModelsTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Runs `arguments[0]` (looked up on PATH) with the rest as arguments, in the
    /// repository root, and returns its exit status and combined output.
    static func run(_ arguments: [String]) throws -> Outcome {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Outcome(status: process.terminationStatus, output: output)
    }

    /// A new empty directory under the system's temporary directory.
    static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
