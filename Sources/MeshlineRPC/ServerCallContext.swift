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
    /// Who calls, when the server has a ``CallPolicy`` and the caller authenticated.
    public let principal: Principal?
    /// The server's policy, asked by typed handlers to authorize each request's tenant.
    public let policy: (any CallPolicy)?
    /// The call's place in its trace; the handler runs with it as ``TraceContext/current``.
    public let trace: TraceContext

    private let response = Mutex<(headers: Metadata, trailers: Metadata)>((Metadata(), Metadata()))

    public init(
        method: RPCMethod, requestMetadata: Metadata, deadline: ContinuousClock.Instant?, remoteAddress: String,
        principal: Principal? = nil, policy: (any CallPolicy)? = nil, trace: TraceContext
    ) {
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.remoteAddress = remoteAddress
        self.principal = principal
        self.policy = policy
        self.trace = trace
    }

    /// Checks that the caller may act for the tenant `request` names (and that the
    /// tenant is within its rate); a no-op without a policy.
    public func authorize<Request>(_ request: Request) throws(RPCError) {
        guard let policy, let scoped = request as? any TenantScopedRequest else { return }
        try policy.authorize(tenant: scoped.scopedTenantID, principal: principal, method: method)
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
