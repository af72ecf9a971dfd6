import Crypto
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// The decision service's calls to the export registry, with its errors turned
/// into ``DecisionError``: UNAVAILABLE names the endpoints; everything else the
/// registry answers (ABORTED for a stale base version, NOT_FOUND, INVALID_ARGUMENT
/// from the QA gate) reaches the caller unchanged.
struct RegistryGateway: Sendable {
    let client: RPCClient
    let endpoints: String
    let timeout: Duration = .seconds(10)
    /// Recorded as the actor of every version the decision service publishes.
    static let actor = "agency:decision-service"

    init(client: RPCClient, endpoints: [String]) {
        self.client = client
        self.endpoints = endpoints.joined(separator: ", ")
    }

    /// Publishes `export` as version `expectedVersion + 1`.
    ///
    /// The idempotency key names the export, that version and what was decided
    /// (``decisionKey(_:)``: everything but the times). A retry that decides the same
    /// thing replays the stored version; one that decided it at a later time (another
    /// TTL) meets ALREADY_EXISTS and returns what the first attempt stored. A different
    /// decision on the same base gets its own key, so the registry judges its base version.
    func publish(_ export: Export, expectedVersion: Int64) async throws(DecisionError) -> Export {
        let request = PublishRequest(
            tenantID: export.tenantID, export: export, idempotencyKey: "\(export.exportID):v\(expectedVersion + 1):\(Self.decisionKey(export))",
            expectedVersion: expectedVersion)
        do {
            let response: PublishResponse = try await call(ExportRegistryDescriptor.publish, request)
            return response.export ?? export
        } catch .registry(let error) where error.code == .alreadyExists {
            let stored = try await get(tenantID: export.tenantID, exportID: export.exportID, version: expectedVersion + 1)
            return stored
        }
    }

    /// 16 hex digits of SHA-256 over the export without its TTL (the one field that
    /// depends on the decision time): the same for the same decision made at another moment.
    static func decisionKey(_ export: Export) -> String {
        var timeless = export
        timeless.expiresAtUnixMs = 0
        return hex(SHA256.hash(data: timeless.serializedBytes()).prefix(8))
    }

    func get(tenantID: String, exportID: String, version: Int64 = 0) async throws(DecisionError) -> Export {
        let response: GetExportResponse = try await call(ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenantID, exportID: exportID, version: version))
        guard let export = response.export else {
            throw .registry(RPCError(code: .internal, message: "the registry answered Get for '\(exportID)' without an export"))
        }
        return export
    }

    /// Every export of the tenant with this kind and state (latest versions), page by page.
    func list(tenantID: String, kind: ExportKind, state: ExportState) async throws(DecisionError) -> [Export] {
        var exports: [Export] = []
        var token = ""
        repeat {
            let response: ListExportsResponse = try await call(
                ExportRegistryDescriptor.list, ListExportsRequest(tenantID: tenantID, state: state, kind: kind, pageSize: 1000, pageToken: token))
            exports += response.exports
            token = response.nextPageToken
        } while !token.isEmpty
        return exports
    }

    private func call<Request: ProtobufMessage, Response: ProtobufMessage>(_ method: RPCMethod, _ request: Request) async throws(DecisionError) -> Response {
        var metadata = Metadata()
        metadata.add("meshline-actor", Self.actor)
        do {
            return try await client.unary(method, request, metadata: metadata, timeout: timeout)
        } catch where error.code == .unavailable || error.code == .deadlineExceeded {
            throw .registryUnavailable(endpoints: endpoints, detail: error.message)
        } catch {
            throw .registry(error)
        }
    }
}
