import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// Default addresses of the three services, as `meshline dev` starts them.
enum DefaultEndpoint {
    static let decision = "127.0.0.1:7002"
    static let registry = "127.0.0.1:7001"
    static let exceptions = "127.0.0.1:7003"
}

/// Exit codes scripts can rely on; `meshline --help` lists them.
enum ExitStatus {
    /// A check found a problem (a broken audit chain, an invalid rule set).
    static let checkFailed: Int32 = 1
    /// The input (a file, an argument) is wrong; the message says what to fix.
    static let badInput: Int32 = 2
    /// A service answered with gRPC status `code`: the exit code is 10 + the code
    /// (13 INVALID_ARGUMENT, 15 NOT_FOUND, 16 ALREADY_EXISTS, 17 PERMISSION_DENIED,
    /// 19 FAILED_PRECONDITION, 20 ABORTED, 24 UNAVAILABLE, …).
    static func rpc(_ code: StatusCode) -> Int32 { 10 + code.rawValue }

    static let help = """
        Exit codes: 0 success; 1 a check failed (broken audit chain, invalid rules); \
        2 bad input (the message says what to fix); 10 + the gRPC status code when a service refused \
        the call (13 invalid argument, 15 not found, 16 already exists, 17 permission denied, \
        19 failed precondition, 20 aborted, 24 unavailable).
        """
}

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// A failure the CLI reports in one line (plus violations) and turns into an exit code.
struct CLIFailure: Error {
    var message: String
    var status: Int32

    static func badInput(_ message: String) -> CLIFailure { CLIFailure(message: message, status: ExitStatus.badInput) }
}

/// Runs a command body: RPC errors and CLI failures become a message on standard error
/// and the documented exit code, never a stack of Swift error text.
func runReporting(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RPCError {
        printError("meshline \(command): \(error.code.description): \(error.message)")
        for violation in error.fieldViolations {
            printError("  - \(violation.field): \(violation.description)")
        }
        throw ExitCode(ExitStatus.rpc(error.code))
    } catch let failure as CLIFailure {
        printError("meshline \(command): \(failure.message)")
        throw ExitCode(failure.status)
    }
}

/// Options every command that talks to the mesh shares.
struct MeshOptions: ParsableArguments {
    @Option(name: .customLong("registry"), help: ArgumentHelp("Export registry HOST:PORT; repeat for replicas. Default: $MESHLINE_REGISTRY or \(DefaultEndpoint.registry).", valueName: "host:port"))
    var registryEndpoints: [String] = []

    @Option(name: .customLong("decision"), help: ArgumentHelp("Decision service HOST:PORT; repeat for replicas. Default: $MESHLINE_DECISION or \(DefaultEndpoint.decision).", valueName: "host:port"))
    var decisionEndpoints: [String] = []

    @Option(name: .customLong("exceptions"), help: ArgumentHelp("Exception router HOST:PORT; repeat for replicas. Default: $MESHLINE_EXCEPTIONS or \(DefaultEndpoint.exceptions).", valueName: "host:port"))
    var exceptionsEndpoints: [String] = []

    @Option(help: "Tenant to act for. Default: $MESHLINE_TENANT.")
    var tenant: String?

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Double = 10

    @Flag(help: "Print JSON (one document, or one line per streamed event) instead of text.")
    var json = false

    @Option(help: "File holding the API key to call with (or $MESHLINE_API_KEY), when the services require one.")
    var apiKeyFile: String?

    func requireTenant() throws -> String {
        guard let tenant = tenant ?? ProcessInfo.processInfo.environment["MESHLINE_TENANT"], !tenant.isEmpty else {
            throw CLIFailure.badInput("no tenant: pass --tenant TENANT or set MESHLINE_TENANT")
        }
        return tenant
    }

    func registry() throws -> RPCClient { try client(registryEndpoints, env: "MESHLINE_REGISTRY", fallback: DefaultEndpoint.registry, flag: "--registry") }
    func decision() throws -> RPCClient { try client(decisionEndpoints, env: "MESHLINE_DECISION", fallback: DefaultEndpoint.decision, flag: "--decision") }
    func exceptions() throws -> RPCClient { try client(exceptionsEndpoints, env: "MESHLINE_EXCEPTIONS", fallback: DefaultEndpoint.exceptions, flag: "--exceptions") }

    private func client(_ given: [String], env: String, fallback: String, flag: String) throws -> RPCClient {
        let texts = given.isEmpty ? [ProcessInfo.processInfo.environment[env] ?? fallback] : given
        let key = try apiKey()
        do {
            var configuration = RPCClient.Configuration(endpoints: try texts.map { text throws(RPCError) in try RPCClient.Endpoint(parsing: text) })
            configuration.defaultTimeout = .milliseconds(Int64(timeout * 1000))
            configuration.connectTimeout = .seconds(3)
            if let key { configuration.defaultMetadata.add("authorization", "Bearer \(key)") }
            return RPCClient(configuration: configuration)
        } catch {
            throw CLIFailure.badInput("\(flag): \(error.message)")
        }
    }

    private func apiKey() throws -> String? {
        if let apiKeyFile {
            guard let data = FileManager.default.contents(atPath: apiKeyFile) else { throw CLIFailure.badInput("--api-key-file: cannot read \(apiKeyFile)") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ProcessInfo.processInfo.environment["MESHLINE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Prints a message as JSON, or as text made by `text`.
    func emit<Message: ProtoJSONMessage>(_ message: Message, text: () -> String) {
        print(json ? message.protoJSON.text() : text())
    }
}

/// Runs `body` with a client and closes the client afterwards, also on failure.
func withClient<T>(_ client: RPCClient, _ body: (RPCClient) async throws -> T) async throws -> T {
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// Reads a JSON file (or `-` for standard input) as a contract message.
func readMessage<Message: ProtoJSONMessage>(_ path: String, root: String, as type: Message.Type = Message.self) throws -> Message {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw CLIFailure.badInput("cannot read \(path): no such file or no permission")
        }
        data = contents
    }
    do {
        return try Message(jsonText: data, root: root)
    } catch {
        throw CLIFailure.badInput("\(path): \(error.description)")
    }
}

/// Times on the command line: Unix milliseconds, or ISO 8601 such as `2026-11-28T17:00:00Z`.
func parseTime(_ text: String, option: String) throws -> Int64 {
    if let milliseconds = Int64(text) { return milliseconds }
    let formatter = ISO8601DateFormatter()
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
    formatter.formatOptions = [.withFullDate]
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
    throw CLIFailure.badInput("\(option) '\(text)' is not a time; use Unix milliseconds or ISO 8601 like 2026-11-28T17:00:00Z")
}

/// A Unix-millisecond time as ISO 8601 in UTC, for text output; `-` for unset.
func formatTime(_ milliseconds: Int64) -> String {
    guard milliseconds != 0 else { return "-" }
    return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// Parses an enum option by its short name, e.g. `out-of-stock` for REJECTION_REASON_OUT_OF_STOCK.
func parseEnum<Value: ProtoJSONEnum>(_ text: String, option: String, prefix: String, as type: Value.Type = Value.self) throws -> Value {
    let wanted = prefix + text.uppercased().replacingOccurrences(of: "-", with: "_")
    if let value = Value(protoName: wanted) ?? Value(protoName: text) { return value }
    let names = Value.allCases.filter { $0.rawValue != 0 }.map { shortName($0.protoName, prefix: prefix) }
    throw CLIFailure.badInput("\(option) '\(text)' is not one of \(names.joined(separator: ", "))")
}

/// `EXPORT_STATE_IN_EXCEPTION` → `in-exception`.
func shortName(_ protoName: String, prefix: String) -> String {
    ProtoEnumName.short(protoName, prefix: prefix).replacingOccurrences(of: "_", with: "-")
}
