import NIOCore
import NIOSSL

/// TLS for a server or client, from PEM files. ALPN offers and selects `h2`.
public struct TLSSettings: Sendable, Hashable {
    /// The certificate chain to present (PEM); required for servers, for clients only with mutual TLS.
    public var certificateChainFile: String?
    /// The private key of the first certificate (PEM).
    public var privateKeyFile: String?
    /// CA certificates (PEM) to verify the peer with; nil uses the system's roots
    /// (clients) or does not ask for client certificates (servers).
    public var trustRootsFile: String?
    /// Servers: require and verify a client certificate (mutual TLS).
    public var requireClientCertificate = false
    /// Clients: the name to verify the server's certificate against; nil uses the endpoint's host.
    public var serverName: String?

    public init(certificateChainFile: String? = nil, privateKeyFile: String? = nil, trustRootsFile: String? = nil,
                requireClientCertificate: Bool = false, serverName: String? = nil) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustRootsFile = trustRootsFile
        self.requireClientCertificate = requireClientCertificate
        self.serverName = serverName
    }

    /// A TLS context for a server; throws when a file is missing or not PEM.
    func makeServerContext() throws -> NIOSSLContext {
        guard let chain = certificateChainFile, let key = privateKeyFile else {
            throw TLSSettingsError("a TLS server needs certificateChainFile and privateKeyFile")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        configuration.applicationProtocols = ["h2"]
        configuration.minimumTLSVersion = .tlsv12
        if let roots = trustRootsFile {
            configuration.trustRoots = .file(roots)
            configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .none
        } else if requireClientCertificate {
            throw TLSSettingsError("mutual TLS needs trustRootsFile to verify client certificates with")
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// A TLS context for a client.
    func makeClientContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["h2"]
        configuration.minimumTLSVersion = .tlsv12
        if let roots = trustRootsFile { configuration.trustRoots = .file(roots) }
        if let chain = certificateChainFile, let key = privateKeyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A TLS setting that cannot work, with what to fix.
public struct TLSSettingsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension TLSSettings {
    /// The name to send as SNI and verify against: not an IP address.
    static func hostnameForVerification(_ host: String, override: String?) -> String? {
        if let override { return override }
        let isIPv4 = host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        return isIPv4 || host.contains(":") ? nil : host
    }
}
