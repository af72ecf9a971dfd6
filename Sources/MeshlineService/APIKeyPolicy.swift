import Crypto
import Foundation
public import MeshlineModels
public import MeshlineRPC
import Synchronization

/// Connector authentication and per-tenant authorization and rate limits.
///
/// With an API keys file, every call (but health checks, which load balancers make
/// without credentials) carries `authorization: Bearer <key>`; the key is looked up
/// by its SHA-256, so the file holds no secret. Each key lists the tenants it may act
/// for (`*`: every tenant, for the mesh's own services). Every request that names a
/// tenant is checked against its caller (typed handlers ask ``authorize``), and each
/// tenant has a token bucket of calls per second.
public final class APIKeyPolicy: CallPolicy {
    public struct Key: Sendable, Hashable {
        public var id: String
        public var secretSHA256: [UInt8]
        /// nil: every tenant.
        public var tenants: Set<String>?

        public init(id: String, secretSHA256: [UInt8], tenants: Set<String>?) {
            self.id = id
            self.secretSHA256 = secretSHA256
            self.tenants = tenants
        }
    }

    private let keysByHash: [[UInt8]: Key]
    private let requireKeys: Bool
    private let tenantRate: Double?
    private let buckets = Mutex(Buckets())

    private struct Buckets {
        var byTenant: [String: TokenBucket] = [:]
        var prunedAt: ContinuousClock.Instant?
    }

    /// `keys` nil admits anonymous callers (rate limits only); `tenantRate` nil: no limit.
    public init(keys: [Key]?, tenantRate: Double?) {
        keysByHash = Dictionary((keys ?? []).map { ($0.secretSHA256, $0) }, uniquingKeysWith: { first, _ in first })
        requireKeys = keys != nil
        self.tenantRate = tenantRate
    }

    public func admit(method: RPCMethod, metadata: Metadata, remoteAddress: String) throws(RPCError) -> Principal? {
        guard requireKeys, !method.path.hasPrefix("/grpc.health.v1.Health/") else { return nil }
        guard let header = metadata["authorization"] else {
            throw RPCError(code: .unauthenticated, message: "this service needs an API key: send metadata 'authorization: Bearer <key>'")
        }
        guard header.hasPrefix("Bearer "), case let secret = header.dropFirst("Bearer ".count), !secret.isEmpty else {
            throw RPCError(code: .unauthenticated, message: "the authorization metadata must be 'Bearer <key>'")
        }
        guard let key = keysByHash[Self.hash(String(secret))] else {
            // Never echo the presented secret.
            throw RPCError(code: .unauthenticated, message: "the API key is not known to this service; ask the operator for a key (meshline keys api-key)")
        }
        return Principal(name: key.id, tenants: key.tenants)
    }

    public func authorize(tenant: String, principal: Principal?, method: RPCMethod) throws(RPCError) {
        if requireKeys, let principal, !principal.mayActFor(tenant) {
            throw RPCError(code: .permissionDenied, message: "API key '\(principal.name)' may not act for tenant '\(tenant)'")
        }
        guard let tenantRate, !tenant.isEmpty else { return }
        // Tenant names come from callers: each bucket's key is bounded like every identifier.
        guard tenant.utf8.count <= Identifier.maximumLength else {
            throw RPCError(code: .invalidArgument, message: "tenant_id is longer than \(Identifier.maximumLength) bytes")
        }
        let now = ContinuousClock.now
        let admitted = buckets.withLock { buckets in
            // Bounded: when there are many buckets, at most once a second, forget those idle
            // for a second — full again, so the same as a new one.
            if buckets.byTenant.count > Self.bucketsKeptWithoutPruning, buckets.prunedAt.map({ now - $0 >= .seconds(1) }) ?? true {
                buckets.byTenant = buckets.byTenant.filter { $0.value.refilledAt.map { now - $0 < .seconds(1) } ?? false }
                buckets.prunedAt = now
            }
            return buckets.byTenant[tenant, default: TokenBucket(rate: tenantRate)].take(now: now)
        }
        if !admitted {
            throw RPCError(code: .resourceExhausted, message: "tenant '\(tenant)' is over its limit of \(Int(tenantRate)) calls per second; retry with backoff")
        }
    }

    static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// Buckets kept before idle ones are forgotten.
    static let bucketsKeptWithoutPruning = 10_000

    /// Tenants with a bucket (for tests).
    var bucketCount: Int { buckets.withLock { $0.byTenant.count } }

    // MARK: Keys file

    private struct File: Codable {
        struct Entry: Codable {
            var id: String
            var sha256: String
            var tenants: [String]
        }
        var keys: [Entry]
    }

    /// Reads an API keys file: `{"keys": [{"id": …, "sha256": hex, "tenants": ["acme"] or ["*"]}]}`.
    public static func loadKeys(_ path: String) throws -> [Key] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read API keys file \(path)")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw ConfigurationError("\(path) is not an API keys file ({\"keys\": [{\"id\", \"sha256\", \"tenants\"}]}): \(error)")
        }
        return try file.keys.map { entry in
            guard let digest = hexBytes(entry.sha256), digest.count == 32 else {
                throw ConfigurationError("\(path): key '\(entry.id)': sha256 must be 64 hex digits")
            }
            guard !entry.tenants.isEmpty else { throw ConfigurationError("\(path): key '\(entry.id)' lists no tenants; use [\"*\"] for a mesh service") }
            return Key(id: entry.id, secretSHA256: digest, tenants: entry.tenants.contains("*") ? nil : Set(entry.tenants))
        }
    }

    /// A new random API key (shown once) and its entry in `path`, which is created when missing.
    public static func addKey(id: String, tenants: [String], to path: String) throws -> String {
        var file = File(keys: [])
        if let data = FileManager.default.contents(atPath: path) {
            do { file = try JSONDecoder().decode(File.self, from: data) } catch { throw ConfigurationError("\(path) is not an API keys file: \(error)") }
        }
        guard !file.keys.contains(where: { $0.id == id }) else { throw ConfigurationError("\(path) already has a key '\(id)'; pick another id") }
        var generator = SystemRandomNumberGenerator()
        let secret = "mlk_" + (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
        file.keys.append(File.Entry(id: id, sha256: hash(secret).map { String(format: "%02x", $0) }.joined(), tenants: tenants))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(file).write(to: URL(fileURLWithPath: path))
        return secret
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Calls per second with a burst of one second's worth.
struct TokenBucket {
    let rate: Double
    var tokens: Double
    var refilledAt: ContinuousClock.Instant?

    init(rate: Double) {
        self.rate = rate
        self.tokens = rate
    }

    mutating func take(now: ContinuousClock.Instant) -> Bool {
        if let refilledAt {
            let elapsed = now - refilledAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(rate, tokens + seconds * rate)
        }
        refilledAt = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// A problem with a service's configuration (flags, files), said so that the operator can fix it.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
