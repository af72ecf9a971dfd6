public import MeshlineModels

/// Who is calling, as the server's ``CallPolicy`` established it. Never holds the secret.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    /// A name for logs and audit, e.g. the API key's id `acme-connector`.
    public var name: String
    /// Tenants the caller may act for; nil means every tenant (a mesh service).
    public var tenants: Set<String>?

    public init(name: String, tenants: Set<String>?) {
        self.name = name
        self.tenants = tenants
    }

    public func mayActFor(_ tenant: String) -> Bool { tenants?.contains(tenant) ?? true }

    public var description: String { name }
}

/// Admission of calls: who may call (authentication, before the request is read) and
/// for which tenant (authorization and per-tenant limits, once the request names it).
///
/// The server asks ``admit(method:metadata:remoteAddress:)`` for every call; typed
/// handlers ask ``authorize(tenant:principal:method:)`` for every request that names
/// a tenant (``TenantScopedRequest``), so no RPC of any service can skip the check.
public protocol CallPolicy: Sendable {
    /// The caller, or nil for an anonymous call the policy allows. Throws
    /// UNAUTHENTICATED for missing or unknown credentials, RESOURCE_EXHAUSTED when the
    /// caller is over its rate.
    func admit(method: RPCMethod, metadata: Metadata, remoteAddress: String) throws(RPCError) -> Principal?
    /// Throws PERMISSION_DENIED when `principal` may not act for `tenant`, and
    /// RESOURCE_EXHAUSTED when the tenant is over its rate.
    func authorize(tenant: String, principal: Principal?, method: RPCMethod) throws(RPCError)
}

/// What the server tells an observer (metrics) about finished calls.
public protocol CallObserver: Sendable {
    /// The observer of one method's calls, asked once per method when the server is
    /// made (`path` is the full `:path`, or `unknown` for calls no handler serves), so
    /// that a finished call reaches its instruments without a lookup.
    func observer(forMethod path: String) -> any MethodObserver
}

/// Told about every finished call of one method.
public protocol MethodObserver: Sendable {
    func callFinished(code: StatusCode, seconds: Double)
}
