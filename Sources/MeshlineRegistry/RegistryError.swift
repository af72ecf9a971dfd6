public import MeshlineModels
public import MeshlineRPC

/// Why the registry refused a call; each case chooses its gRPC status once.
public enum RegistryError: Error, Sendable, Equatable, RPCErrorConvertible {
    /// The export failed the QA gate; every violation is listed.
    case qaFailed([Violation])
    /// A request field is missing or malformed (not an export rule).
    case invalidRequest(field: String, reason: String)
    case notFound(exportID: String)
    /// A live export exists for the tenant, order and kind, or the export exists and
    /// no `expected_version` says which version to supersede.
    case conflict(String)
    /// The idempotency key was used before with different content.
    case idempotencyKeyReused(key: String)
    /// The version the caller based its change on is no longer current.
    case staleVersion(expected: Int64, current: Int64)
    /// Signature, key or replay problems with an override.
    case permissionDenied(String)
    /// The version would be larger than the registry stores (see ``StoredExportSize``).
    case tooLarge(String)
    /// The storage failed; the message says what to check.
    case storage(String)

    /// An override nonce was used before with the same key: the override is a replay.
    static func nonceReplayed(keyID: String, nonce: String) -> RegistryError {
        .permissionDenied("nonce '\(nonce)' was already used with key '\(keyID)': this override is a replay; sign a new override with a fresh nonce")
    }

    public var rpcError: RPCError {
        switch self {
        case .qaFailed(let violations):
            return RPCError.badRequest(
                "the export failed the QA gate with \(violations.count) violation\(violations.count == 1 ? "" : "s"): "
                    + violations.prefix(3).map { "\($0.field): \($0.reason)" }.joined(separator: "; ")
                    + (violations.count > 3 ? "; … (listed in grpc-status-details-bin)" : ""),
                violations: violations.map { BadRequest.FieldViolation(field: $0.field, description: "\($0.reason) [\($0.rule)]") })
        case .invalidRequest(let field, let reason):
            return RPCError.badRequest("\(field) \(reason)", violations: [BadRequest.FieldViolation(field: field, description: reason)])
        case .notFound(let exportID):
            return RPCError(code: .notFound, message: "export '\(exportID)' does not exist for this tenant")
        case .conflict(let message):
            return RPCError(code: .failedPrecondition, message: message)
        case .idempotencyKeyReused(let key):
            return RPCError(code: .alreadyExists, message: "idempotency key '\(key)' was used for a different publish; use a new key for new content")
        case .staleVersion(let expected, let current):
            return RPCError(code: .aborted, message: "version \(expected) is not current (current is \(current)); read the export again and base the change on version \(current)")
        case .permissionDenied(let reason):
            return RPCError(code: .permissionDenied, message: reason)
        case .tooLarge(let reason):
            return RPCError(code: .resourceExhausted, message: reason)
        case .storage(let reason):
            return RPCError(code: .unavailable, message: "the registry's storage failed: \(reason)")
        }
    }
}
