public import MeshlineModels
import Synchronization

/// What a handler knows about its call, and where it puts response metadata.
///
/// Shared between the handler and the transport, so it is a class with its
/// mutable parts behind a lock.
public final class ServerCallContext: Sendable {
    /// The method called.
    public let method: RPCMethod
    /// Custom metadata of the request (no pseudo-headers and no transport headers).
    public let requestMetadata: Metadata
    /// When the caller stops waiting, if it said (`grpc-timeout`), as nanoseconds of
    /// `ContinuousClock` from now at the time the call arrived.
    public let deadline: ContinuousClock.Instant?
    /// The caller's address, e.g. `127.0.0.1:53422`.
    public let remoteAddress: String

    private let response = Mutex<(headers: Metadata, trailers: Metadata)>((Metadata(), Metadata()))

    public init(method: RPCMethod, requestMetadata: Metadata, deadline: ContinuousClock.Instant?, remoteAddress: String) {
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.remoteAddress = remoteAddress
    }

    /// Adds metadata to the response headers; effective until the first response message is sent.
    public func addResponseHeaders(_ metadata: Metadata) {
        response.withLock { $0.headers.merge(metadata) }
    }

    /// Adds metadata to the trailers sent with the status.
    public func addTrailers(_ metadata: Metadata) {
        response.withLock { $0.trailers.merge(metadata) }
    }

    /// The response headers set so far.
    public var responseHeaders: Metadata { response.withLock { $0.headers } }
    /// The trailers set so far.
    public var trailers: Metadata { response.withLock { $0.trailers } }
}
