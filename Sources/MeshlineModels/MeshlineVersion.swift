/// Version information shared by every Meshline binary.
public enum MeshlineVersion {
    /// The release version of this build.
    public static let current = "0.1.0"
    /// The protobuf package of the contract this build speaks.
    public static let contractPackage = "meshline.v1"
}
