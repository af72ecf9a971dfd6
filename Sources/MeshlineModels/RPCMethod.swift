/// One RPC of the contract, as generated from a `service` in proto/.
public struct RPCMethod: Hashable, Sendable {
    /// The HTTP/2 `:path`, `/package.Service/Method`.
    public var path: String
    /// The method name, e.g. `Publish`.
    public var name: String
    /// Full name of the request message, e.g. `meshline.v1.PublishRequest`.
    public var requestType: String
    /// Full name of the response message.
    public var responseType: String
    /// Whether the server answers with a stream of responses.
    public var serverStreaming: Bool

    public init(path: String, name: String, requestType: String, responseType: String, serverStreaming: Bool) {
        self.path = path
        self.name = name
        self.requestType = requestType
        self.responseType = responseType
        self.serverStreaming = serverStreaming
    }
}

/// A request that names the tenant it acts for, so that servers can authorize every
/// call in one place. Generated for every request message with a `tenant_id` field;
/// written by hand where the tenant sits deeper.
public protocol TenantScopedRequest {
    var scopedTenantID: String { get }
}

extension OverrideRequest: TenantScopedRequest {
    public var scopedTenantID: String { self.override.change.tenantID }
}

extension PutRuleSetRequest: TenantScopedRequest {
    public var scopedTenantID: String { ruleSet.tenantID }
}
