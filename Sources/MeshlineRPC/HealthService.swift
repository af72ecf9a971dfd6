public import MeshlineModels
import Synchronization

/// `grpc.health.v1.Health` as gRPC's health-checking protocol defines it.
///
/// `Check` answers the current status of a service (`""` is the server as a
/// whole) or NOT_FOUND for a service the server does not know. `Watch` sends the
/// current status at once (SERVICE_UNKNOWN for an unknown service, without ending
/// the call), then every change; only the latest status is kept for a slow reader.
public final class HealthService: RPCService {
    public typealias Status = HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status]
        var watchers: [Int: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
        var nextWatcherID = 0
        var shutDown = false
    }

    private let state: Mutex<State>

    /// Starts with `""` and every named service SERVING.
    public init(services: [String]) {
        var statuses: [String: Status] = ["": .serving]
        for service in services { statuses[service] = .serving }
        state = Mutex(State(statuses: statuses))
    }

    public var serviceName: String { HealthDescriptor.fullName }

    /// The status of `service`, or nil when unknown.
    public func status(of service: String) -> Status? {
        state.withLock { $0.statuses[service] }
    }

    /// Sets a service's status and tells its watchers.
    public func setStatus(_ status: Status, for service: String) {
        state.withLock { state in
            state.statuses[service] = status
            for watcher in state.watchers.values where watcher.service == service {
                watcher.continuation.yield(status)
            }
        }
    }

    /// Marks every service NOT_SERVING (the server is draining) and, when `endWatches`
    /// is true, ends every Watch call with UNAVAILABLE after telling it.
    public func markNotServing(endWatches: Bool) {
        state.withLock { state in
            for service in state.statuses.keys { state.statuses[service] = .notServing }
            for watcher in state.watchers.values {
                watcher.continuation.yield(.notServing)
                if endWatches { watcher.continuation.finish() }
            }
            if endWatches {
                state.watchers.removeAll()
                state.shutDown = true
            }
        }
    }

    public var handlers: [RPCHandler] {
        [
            .inlineUnary(HealthDescriptor.check) { [self] (request: HealthCheckRequest, _) throws(RPCError) -> HealthCheckResponse in
                guard let status = self.status(of: request.service) else {
                    throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
                }
                return HealthCheckResponse(status: status)
            },
            .serverStreaming(HealthDescriptor.watch) { [self] (request: HealthCheckRequest, writer: ResponseWriter<HealthCheckResponse>, _) in
                try await self.watch(request.service, writer: writer)
            },
        ]
    }

    private func watch(_ service: String, writer: ResponseWriter<HealthCheckResponse>) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(1))
        let registered: Int? = state.withLock { state in
            guard !state.shutDown else { return nil }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = (service, continuation)
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            return id
        }
        guard let id = registered else {
            throw RPCError(code: .unavailable, message: "the server is shutting down; watch another replica")
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        var last: Status?
        for await status in stream where status != last {
            try await writer.write(HealthCheckResponse(status: status))
            last = status
        }
        try Task.checkCancellation()
        throw RPCError(code: .unavailable, message: "the server is shutting down; watch another replica")
    }
}
