public import MeshlineRPC
import MeshlineModels

/// Why the exception router refused a call; each case chooses its gRPC status once.
public enum ExceptionError: Error, Sendable, Equatable, RPCErrorConvertible {
    /// A request field is missing or malformed.
    case invalidRequest(field: String, reason: String)
    /// No case with this id exists for the tenant (also another tenant's case).
    case caseNotFound(caseID: String)
    /// The registry does not hold the export (or version) the request names.
    case exportNotFound(String)
    /// The case is not in a state that allows the change.
    case conflict(String)
    /// The registry or the decision service did not answer; the call is safe to repeat.
    case dependencyUnavailable(String)
    /// The storage failed; the message says what to check.
    case storage(String)

    public var rpcError: RPCError {
        switch self {
        case .invalidRequest(let field, let reason):
            return RPCError.badRequest("\(field) \(reason)", violations: [BadRequest.FieldViolation(field: field, description: reason)])
        case .caseNotFound(let caseID):
            return RPCError(code: .notFound, message: "case '\(caseID)' does not exist for this tenant; list the tenant's cases with ListQueue")
        case .exportNotFound(let export):
            return RPCError(code: .notFound, message: "export '\(export)' does not exist in the registry for this tenant")
        case .conflict(let message):
            return RPCError(code: .failedPrecondition, message: message)
        case .dependencyUnavailable(let message):
            return RPCError(code: .unavailable, message: message)
        case .storage(let reason):
            return RPCError(code: .unavailable, message: "the exception router's storage failed: \(reason)")
        }
    }
}
