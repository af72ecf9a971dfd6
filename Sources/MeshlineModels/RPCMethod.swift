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
