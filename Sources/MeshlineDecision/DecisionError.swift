public import MeshlineModels
public import MeshlineRPC

/// Why the decision service refused a call; each case chooses its gRPC status once.
public enum DecisionError: Error, Sendable, Equatable, RPCErrorConvertible {
    /// The request (an order, a rule set, inventory levels) breaks one or more rules; all are listed.
    case invalid([Violation])
    /// A rule-set file could not be read or parsed; the message names file, line and field.
    case ruleFile(String)
    /// The tenant has no rule set, or not the version asked for.
    case ruleSetNotFound(tenantID: String, version: String?)
    /// The export registry could not be reached; the message names the endpoints.
    case registryUnavailable(endpoints: String, detail: String)
    /// The export registry answered with an error that the caller should see as it is
    /// (ABORTED for a stale base version, NOT_FOUND for an unknown export, …).
    case registry(RPCError)
    /// The version exists with other rules; versions never change.
    case versionExists(tenantID: String, version: String)
    /// The export carries no order (it was not published by the decision service), so it cannot be decided again.
    case notDecidable(exportID: String)
    /// Rule sets could not be written to the rules directory.
    case storage(String)
    /// An inventory update would make the tenant's view hold more than
    /// ``DecisionLimits/maximumInventorySKUs`` distinct SKUs; nothing was applied.
    case tooManySKUs(tenantID: String, held: Int, adding: Int)

    /// One violation, as `invalid`.
    static func invalid(_ field: String, _ reason: String, rule: String) -> DecisionError {
        .invalid([Violation(field: field, reason: reason, rule: rule)])
    }

    public var rpcError: RPCError {
        switch self {
        case .invalid(let violations):
            return RPCError.badRequest(
                violations.prefix(3).map { "\($0.field) \($0.reason)" }.joined(separator: "; ")
                    + (violations.count > 3 ? "; … (\(violations.count) violations, listed in grpc-status-details-bin)" : ""),
                violations: violations.map { BadRequest.FieldViolation(field: $0.field, description: "\($0.reason) [\($0.rule)]") })
        case .ruleFile(let message):
            return RPCError(code: .invalidArgument, message: message)
        case .ruleSetNotFound(let tenantID, let version):
            if let version {
                return RPCError(code: .notFound, message: "tenant '\(tenantID)' has no rule set version \(version); put it with PutRuleSet or add it to the rules directory")
            }
            return RPCError(code: .notFound, message: "tenant '\(tenantID)' has no rule set; put one with PutRuleSet or add a YAML file to the rules directory")
        case .registryUnavailable(let endpoints, let detail):
            return RPCError(code: .unavailable, message: "the export registry at \(endpoints) is unavailable (\(detail)); check that it runs and that --registry names it, then retry")
        case .registry(let error):
            return error
        case .notDecidable(let exportID):
            return RPCError(code: .failedPrecondition, message: "export '\(exportID)' carries no order, so it cannot be decided again; re-decide exports the decision service published, or change this one with a signed override")
        case .versionExists(let tenantID, let version):
            return RPCError(code: .alreadyExists, message: "tenant '\(tenantID)' already has rule set \(version) with other rules; versions never change, put the new rules as a new version (e.g. after \(version))")
        case .storage(let reason):
            return RPCError(code: .unavailable, message: "the rules directory cannot be written: \(reason)")
        case .tooManySKUs(let tenantID, let held, let adding):
            return RPCError(code: .resourceExhausted, message: "tenant '\(tenantID)' holds inventory for \(held) distinct SKUs and this update adds \(adding) more; the decision service keeps at most \(DecisionLimits.maximumInventorySKUs) SKUs per tenant, so nothing was applied: report stock only for SKUs the tenant sells")
        }
    }
}
