public import MeshlineModels

/// The error a call fails with: what goes on the wire as `grpc-status`,
/// `grpc-message` and trailing metadata, plus the local cause.
///
/// Handlers throw it (or a domain error that conforms to ``RPCErrorConvertible``);
/// clients receive it. Any other error thrown by a handler reaches the caller as
/// `UNKNOWN` without its text, so internal details never leak.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status code; never `.ok`.
    public var code: StatusCode
    /// A message for the developer on the other side: what went wrong and what to fix.
    public var message: String
    /// Trailing metadata sent with the status, e.g. `grpc-status-details-bin`.
    public var metadata: Metadata

    public init(code: StatusCode, message: String, metadata: Metadata = Metadata()) {
        precondition(code != .ok, "an RPCError cannot carry OK")
        self.code = code
        self.message = message
        self.metadata = metadata
    }

    public var description: String {
        message.isEmpty ? "\(code)" : "\(code): \(message)"
    }
}

/// A domain error that chooses its own gRPC status; the transport maps it once,
/// where the handler's error leaves the handler.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError {
    /// The status a thrown error becomes on the wire.
    public static func from(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            error
        case let error as any RPCErrorConvertible:
            error.rpcError
        case is CancellationError:
            RPCError(code: .cancelled, message: "the call was cancelled")
        default:
            RPCError(code: .unknown, message: "the handler failed with an unexpected error")
        }
    }
}

extension RPCError {
    /// The most bytes `grpc-status-details-bin` may take before base64 (about 6.8 KB on
    /// the wire): stock gRPC clients refuse trailers above 8 KB, and a block nghttp2
    /// cannot send reaches the client as a reset instead of INVALID_ARGUMENT.
    public static let maximumStatusDetailsSize = 5_120

    /// INVALID_ARGUMENT with gRPC's rich error model: a `google.rpc.Status` holding a
    /// `google.rpc.BadRequest` that lists the field violations, in the
    /// `grpc-status-details-bin` trailer, so clients see all problems at once. When
    /// they do not fit in ``maximumStatusDetailsSize``, the first ones are listed and
    /// the message says how many were left out.
    public static func badRequest(_ message: String, violations: [BadRequest.FieldViolation]) -> RPCError {
        var text = message
        var details = statusDetails(text, violations[...])
        if details.count > maximumStatusDetailsSize {
            func leftOut(_ count: Int) -> String {
                "\(message); \(count) more violation\(count == 1 ? "" : "s") not listed in grpc-status-details-bin (kept within gRPC's metadata limits): fix these and retry to see the rest"
            }
            // Each violation is one field of BadRequest, so their sizes add up; the slack
            // covers the length prefixes that grow as the details fill.
            var size = statusDetails(leftOut(violations.count), []).count + 8
            var listed = 0
            for violation in violations {
                size += BadRequest(fieldViolations: [violation]).serializedBytes().count
                guard size <= maximumStatusDetailsSize else { break }
                listed += 1
            }
            text = leftOut(violations.count - listed)
            details = statusDetails(text, violations.prefix(listed))
        }
        var error = RPCError(code: .invalidArgument, message: text)
        error.metadata.add("grpc-status-details-bin", binary: details)
        return error
    }

    private static func statusDetails(_ message: String, _ violations: ArraySlice<BadRequest.FieldViolation>) -> [UInt8] {
        RPCStatus(
            code: StatusCode.invalidArgument.rawValue, message: message,
            details: [ProtoAny(typeURL: "type.googleapis.com/google.rpc.BadRequest", value: BadRequest(fieldViolations: Array(violations)).serializedBytes())]
        ).serializedBytes()
    }
}

extension RPCError {
    /// The field violations of a ``badRequest(_:violations:)`` error, read back from
    /// `grpc-status-details-bin`; empty when the error carries none.
    public var fieldViolations: [BadRequest.FieldViolation] {
        guard let bytes = metadata.binary("grpc-status-details-bin"),
              let status = try? RPCStatus(serializedBytes: bytes) else { return [] }
        return status.details
            .filter { $0.typeURL == "type.googleapis.com/google.rpc.BadRequest" }
            .compactMap { try? BadRequest(serializedBytes: $0.value) }
            .flatMap(\.fieldViolations)
    }
}
