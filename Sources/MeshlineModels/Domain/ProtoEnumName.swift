/// Short names of contract enum values for people and metric labels, from their
/// proto names: every value of an enum shares a prefix (`EXPORT_KIND_`), which the
/// short name drops.
public enum ProtoEnumName {
    /// `EXPORT_KIND_ROUTING` with prefix `EXPORT_KIND_` → `routing`; a name without the
    /// prefix is only lowercased.
    public static func short(_ protoName: String, prefix: String) -> String {
        String(protoName.dropFirst(protoName.hasPrefix(prefix) ? prefix.count : 0)).lowercased()
    }
}
