public import Foundation

/// A built service executable (`meshline-registry`, `meshline-decision`,
/// `meshline-exceptions`, …) run as a real process, with the port it reported.
public final class ServiceProcess {
    /// The directory holding the built executables (next to the test bundle).
    public static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    public let process = Process()
    public let output = Pipe()
    public private(set) var port = 0

    /// Starts `executable` with `arguments` and waits (20 s at most) until its output
    /// matches `pattern`, whose last `:NUMBER` is the port it serves on.
    public init(_ executable: String, _ arguments: [String], pattern: String = #"listening on 127\.0\.0\.1:(\d+)"#) throws {
        let binary = Self.binaries.appendingPathComponent(executable)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(binary.path) is missing; build with swift build --build-tests"])
        }
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: pattern, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)!
                return
            }
        }
        process.terminate()
        process.waitUntilExit()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "\(executable) did not start: \(text)"])
    }

    /// SIGTERM, then the exit status once the process ended (0 after a clean drain).
    public func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
