import Foundation
public import ServiceLifecycle

/// Background work (maintenance, schedulers) as a lifecycle service: cancelled when the group shuts down.
public struct BackgroundWork: Service {
    let body: @Sendable () async -> Void

    public init(_ body: @escaping @Sendable () async -> Void) {
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}

/// Prints one line once the service group runs, so that a supervisor that stops the
/// service as soon as it sees the line gets a graceful drain (the SIGTERM handler is
/// installed by then).
struct Announcement: Service {
    let line: String

    func run() async throws {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        try? await gracefulShutdown()
    }
}

/// Where a service keeps its data: `sqlite:` (a file in the data directory),
/// `sqlite:PATH`, or `postgres://…` for several replicas on one database.
public enum DatabaseLocation: Equatable {
    case sqlite(path: String)
    case postgres(url: String)

    /// Parses `--database`; for `sqlite:` creates `dataDirectory` and names `fileName` in it.
    public init(database: String, dataDirectory: String, fileName: String) throws(ConfigurationError) {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            self = .postgres(url: database)
            return
        }
        guard database.hasPrefix("sqlite:") else {
            // Only the scheme: the rest may hold a password.
            let scheme = database.prefix { $0 != ":" }
            throw ConfigurationError("--database '\(scheme):…' is neither sqlite: nor postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let path = String(database.dropFirst("sqlite:".count))
        if !path.isEmpty {
            self = .sqlite(path: path)
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError("--data-dir '\(dataDirectory)' cannot be created: \(error.localizedDescription)")
        }
        self = .sqlite(path: (dataDirectory as NSString).appendingPathComponent(fileName))
    }
}
