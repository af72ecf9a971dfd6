import ArgumentParser
import Crypto
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineService

#if canImport(Glibc)
    import Glibc
#endif

/// The three service processes of a mesh on this machine, with embedded storage
/// under one directory: what `meshline dev` runs and `meshline demo` runs against.
final class LocalMesh {
    struct Process {
        let name: String
        let process: Foundation.Process
        let log: URL
    }

    let directory: URL
    let registry: String
    let decision: String
    let exceptions: String
    /// The override signing key `dev` creates and the registry trusts for tenant `acme`.
    let keyFile: URL
    private(set) var processes: [Process] = []

    /// Ports: `base`, `base + 1`, `base + 2` for registry, decision, exceptions; 0 picks free ones.
    init(directory: URL, basePort: Int) throws {
        self.directory = directory
        let ports = basePort == 0 ? try (0..<3).map { _ in try Self.freePort() } : [basePort, basePort + 1, basePort + 2]
        registry = "127.0.0.1:\(ports[0])"
        decision = "127.0.0.1:\(ports[1])"
        exceptions = "127.0.0.1:\(ports[2])"
        keyFile = directory.appendingPathComponent("keys/ops.key")
    }

    /// Writes the configuration on first use: a signing key trusted for tenant `acme`,
    /// the tenants file, and a router policy with retries in seconds (a demo cannot wait minutes).
    func prepare() throws {
        let fileManager = FileManager.default
        for sub in ["registry", "exceptions", "rules", "keys", "logs"] {
            try fileManager.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        if !fileManager.fileExists(atPath: keyFile.path) {
            let key = Curve25519.Signing.PrivateKey()
            let file = KeyFile(key_id: "acme-ops", public_key: key.publicKey.rawRepresentation.base64EncodedString(), private_key: key.rawRepresentation.base64EncodedString())
            guard fileManager.createFile(atPath: keyFile.path, contents: try JSONEncoder().encode(file), attributes: [.posixPermissions: 0o600]) else {
                throw CLIFailure.badInput("cannot write \(keyFile.path)")
            }
        }
        let (keyID, key) = try KeyFile.load(keyFile.path)
        let tenants: [String: Any] = ["tenants": ["acme": [
            "service_levels": ["standard", "express", "same-day"],
            "keys": [["key_id": keyID, "public_key": key.publicKey.rawRepresentation.base64EncodedString(), "can_override": true]],
        ] as [String: Any]]]
        try JSONSerialization.data(withJSONObject: tenants, options: [.prettyPrinted, .sortedKeys]).write(to: directory.appendingPathComponent("tenants.json"))
        let policy: [String: Any] = [
            "retry": ["initial_interval_ms": 500, "backoff_coefficient": 2.0, "maximum_interval_ms": 5000, "maximum_attempts": 4, "jitter": true],
            "never_retry": ["INCORRECT_ADDRESS"],
            "escalation_delays_ms": [60000, 300000],
            "backorder_queue": "backorder",
            "backorder_poll_interval_ms": 1000,
            "default_queue": "agency-ops",
        ]
        try JSONSerialization.data(withJSONObject: policy, options: [.prettyPrinted, .sortedKeys]).write(to: directory.appendingPathComponent("policy.json"))
    }

    /// Starts the three services and waits until each answers its health check.
    func start(extraFlags: [String] = []) async throws {
        try prepare()
        let path = directory.path
        try launch("meshline-registry", [
            "--listen", registry, "--data-dir", "\(path)/registry", "--tenants", "\(path)/tenants.json", "--exceptions", exceptions,
        ] + extraFlags)
        try launch("meshline-decision", ["--listen", decision, "--registry", registry, "--rules", "\(path)/rules"] + extraFlags)
        try launch("meshline-exceptions", [
            "--listen", exceptions, "--data-dir", "\(path)/exceptions", "--registry", registry, "--decision", decision, "--policy", "\(path)/policy.json",
        ] + extraFlags)
        for (name, endpoint) in [("registry", registry), ("decision", decision), ("exceptions", exceptions)] {
            try await waitUntilServing(name, endpoint)
        }
    }

    private func launch(_ name: String, _ arguments: [String]) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw CLIFailure.badInput("\(binary.path) is missing; build every product first (swift build -c release)")
        }
        let log = directory.appendingPathComponent("logs/\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Foundation.Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.append(Process(name: name, process: process, log: log))
    }

    private func waitUntilServing(_ name: String, _ endpoint: String) async throws {
        var configuration = RPCClient.Configuration(endpoints: [try RPCClient.Endpoint(parsing: endpoint)])
        configuration.defaultTimeout = .seconds(1)
        configuration.initialBackoff = .milliseconds(50)
        configuration.maximumBackoff = .milliseconds(200)
        let client = RPCClient(configuration: configuration)
        defer { Task { await client.close() } }
        for _ in 0..<150 {
            if let exited = processes.first(where: { !$0.process.isRunning }) {
                let tail = (try? String(contentsOf: exited.log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
                throw CLIFailure(message: "\(exited.name) exited with status \(exited.process.terminationStatus):\n\(tail)", status: ExitStatus.checkFailed)
            }
            if let response: HealthCheckResponse = try? await client.unary(HealthDescriptor.check, HealthCheckRequest()), response.status == .serving {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIFailure(message: "\(name) on \(endpoint) did not become healthy in 15 s; see \(directory.path)/logs/", status: ExitStatus.checkFailed)
    }

    /// SIGTERM to every service (they drain and flush), then waits; returns whether all exited 0.
    @discardableResult
    func stop() -> Bool {
        for entry in processes.reversed() where entry.process.isRunning { entry.process.terminate() }
        var clean = true
        for entry in processes {
            entry.process.waitUntilExit()
            if entry.process.terminationStatus != 0 { clean = false }
        }
        processes.removeAll()
        return clean
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, length) } }
        guard bound == 0 else { throw CLIFailure.badInput("cannot find a free port") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// `meshline dev`: the whole mesh on this machine until Ctrl-C.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the decision service, export registry and exception router on this machine with embedded storage; Ctrl-C stops them cleanly.",
        discussion: """
            Storage, configuration and logs live under --data-dir (kept between runs). The first run creates an \
            override signing key (keys/ops.key) that the registry trusts for tenant acme. Other meshline commands \
            find this mesh at its default ports: registry 7001, decision 7002, exceptions 7003.
            """)

    @Option(help: "Directory for storage, configuration and logs.")
    var dataDir = "./meshline-dev"
    @Option(help: "First of three consecutive ports (registry, decision, exceptions).")
    var basePort = 7001

    func run() async throws {
        try await runReporting("dev") {
            let mesh = try LocalMesh(directory: URL(fileURLWithPath: dataDir).standardizedFileURL, basePort: basePort)
            // Ctrl-C and SIGTERM stop the services rather than this process alone.
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let (stop, continuation) = AsyncStream<Void>.makeStream()
            let sources = [SIGINT, SIGTERM].map { number in
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { continuation.yield() }
                source.resume()
                return source
            }
            defer { sources.forEach { $0.cancel() } }
            do {
                try await mesh.start()
            } catch {
                mesh.stop()
                throw error
            }
            print("""
                mesh running (Ctrl-C stops it):
                  registry    \(mesh.registry)
                  decision    \(mesh.decision)
                  exceptions  \(mesh.exceptions)
                  data, logs  \(mesh.directory.path)
                  override key \(mesh.keyFile.path) (key id acme-ops, trusted for tenant acme)
                try: meshline demo --registry \(mesh.registry) --decision \(mesh.decision) --exceptions \(mesh.exceptions)
                """)
            fflush(nil)
            var iterator = stop.makeAsyncIterator()
            _ = await iterator.next()
            print("stopping: draining calls and flushing storage…")
            let clean = mesh.stop()
            print(clean ? "stopped cleanly" : "a service did not exit cleanly; see \(mesh.directory.path)/logs/")
            if !clean { throw ExitCode(ExitStatus.checkFailed) }
        }
    }
}
