extension OverrideChange {
    /// Domain-separation prefix of the signed bytes, so that a signature over an
    /// override can never be mistaken for a signature over anything else.
    public static let signingPrefix: [UInt8] = Array("meshline-override-v1\n".utf8)

    /// The bytes an Ed25519 override signature covers: ``signingPrefix`` followed by
    /// the deterministic protobuf encoding of this change (fields in field-number
    /// order, defaults omitted, no unknown fields). Python produces the same bytes
    /// with `b"meshline-override-v1\n" + change.SerializeToString(deterministic=True)`.
    public var signingBytes: [UInt8] {
        Self.signingPrefix + serializedBytes()
    }
}
