import Crypto
import Foundation
import MeshlineModels

/// Per-tenant settings the registry reads from its tenants file: the SLA taxonomy
/// the QA gate checks against, and the Ed25519 keys trusted to sign overrides.
///
/// The file is JSON:
///
///     { "tenants": { "acme": {
///         "service_levels": ["standard", "express"],
///         "keys": [ { "key_id": "ops-2026", "public_key": "<base64 of 32 bytes>", "can_override": true } ]
///     } } }
public struct TenantDirectory: Sendable {
    public struct TrustedKey: Sendable {
        public var keyID: String
        /// The raw 32-byte Ed25519 public key.
        public var publicKey: [UInt8]
        public var canOverride: Bool

        public init(keyID: String, publicKey: [UInt8], canOverride: Bool) {
            self.keyID = keyID
            self.publicKey = publicKey
            self.canOverride = canOverride
        }
    }

    public struct Tenant: Sendable {
        /// The SLA taxonomy; nil skips the check.
        public var serviceLevels: Set<String>?
        public var keys: [String: TrustedKey]

        public init(serviceLevels: Set<String>?, keys: [String: TrustedKey]) {
            self.serviceLevels = serviceLevels
            self.keys = keys
        }
    }

    public var tenants: [String: Tenant]

    public init(tenants: [String: Tenant] = [:]) {
        self.tenants = tenants
    }

    private struct File: Decodable {
        struct TenantEntry: Decodable {
            var service_levels: [String]?
            var keys: [KeyEntry]?
        }
        struct KeyEntry: Decodable {
            var key_id: String
            var public_key: String
            var can_override: Bool?
        }
        var tenants: [String: TenantEntry]
    }

    /// Loads the tenants file; the error names the file and what is wrong.
    public init(contentsOf path: String) throws(RegistryError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .invalidRequest(field: path, reason: "cannot be read: \(error.localizedDescription)")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw .invalidRequest(field: path, reason: "is not a valid tenants file: \(error)")
        }
        var tenants: [String: Tenant] = [:]
        for (tenantID, entry) in file.tenants {
            var keys: [String: TrustedKey] = [:]
            for key in entry.keys ?? [] {
                guard let bytes = Data(base64Encoded: key.public_key), bytes.count == 32 else {
                    throw .invalidRequest(field: "\(path): tenants.\(tenantID).keys.\(key.key_id).public_key", reason: "must be the base64 of a 32-byte Ed25519 public key")
                }
                keys[key.key_id] = TrustedKey(keyID: key.key_id, publicKey: [UInt8](bytes), canOverride: key.can_override ?? false)
            }
            tenants[tenantID] = Tenant(serviceLevels: entry.service_levels.map(Set.init), keys: keys)
        }
        self.tenants = tenants
    }

    /// Checks a signed override's key and signature; the error says which check failed.
    func verify(_ signed: SignedOverride) throws(RegistryError) {
        let change = signed.change
        guard let tenant = tenants[change.tenantID] else {
            throw .permissionDenied("no keys are trusted for tenant '\(change.tenantID)'; add the signer's public key to the registry's tenants file")
        }
        guard let key = tenant.keys[change.signerKeyID] else {
            throw .permissionDenied("key '\(change.signerKeyID)' is not trusted for tenant '\(change.tenantID)'")
        }
        guard key.canOverride else {
            throw .permissionDenied("key '\(change.signerKeyID)' is trusted for tenant '\(change.tenantID)' but not allowed to override")
        }
        let valid: Bool
        do {
            let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey)
            valid = signed.signature.count == 64 && publicKey.isValidSignature(signed.signature, for: change.signingBytes)
        } catch {
            valid = false
        }
        guard valid else {
            throw .permissionDenied("the override's signature does not verify with key '\(change.signerKeyID)': sign \"meshline-override-v1\\n\" followed by the deterministic encoding of the change, unmodified")
        }
    }
}
