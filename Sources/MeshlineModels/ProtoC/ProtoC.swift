// The bridge between the generated Swift value types and protobuf-c's C structs.
//
// This file and ProtoArena.swift are the only hand-written places where
// MeshlineModels touches C memory; the generated `*.bridge.swift` files call
// the helpers below field by field.

internal import CProtobufC

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A generated value type with a protobuf-c struct counterpart.
protocol ProtobufCBridged {
    associatedtype CMessage
    /// The message's full name in the contract, e.g. `meshline.v1.Export`.
    static var protoName: String { get }
    /// Sets a freshly allocated C struct to its defaults (protoc-c's `__init`).
    static func cInitialize(_ message: UnsafeMutablePointer<CMessage>)
    /// Copies a C struct out into a value, checking enums, UTF-8 and required fields.
    init(cMessage: UnsafePointer<CMessage>) throws(ProtoDecodingError)
    /// Writes the value into an initialized C struct; every pointer it stores comes from `arena`.
    func fill(_ message: UnsafeMutablePointer<CMessage>, arena: ProtoArena)
}

/// A top-level message: protoc-c generates pack and unpack functions only for these.
protocol ProtobufCPackable: ProtobufCBridged {
    static func cUnpack(_ allocator: UnsafePointer<ProtobufCAllocator>, _ count: Int, _ bytes: UnsafePointer<UInt8>) -> UnsafeMutablePointer<CMessage>?
    static func cPackedSize(_ message: UnsafePointer<CMessage>) -> Int
    static func cPack(_ message: UnsafePointer<CMessage>, _ out: UnsafeMutablePointer<UInt8>) -> Int
}

/// A generated enum; its raw value is the proto enum number.
protocol ProtobufCEnum: RawRepresentable where RawValue == Int32 {}

enum ProtoC {
    // MARK: Whole messages

    static func decode<M: ProtobufCPackable>(_ bytes: some Sequence<UInt8>, as type: M.Type) throws(ProtoDecodingError) -> M {
        var decoded: M?
        var failure: ProtoDecodingError?
        let contiguous: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            do throws(ProtoDecodingError) {
                decoded = try decode(UnsafeRawBufferPointer(buffer), as: type)
            } catch {
                failure = error
            }
        }
        if contiguous == nil {
            return try decode(Array(bytes), as: type)
        }
        if let failure { throw failure }
        return decoded!
    }

    static func decode<M: ProtobufCPackable>(_ bytes: [UInt8], as type: M.Type) throws(ProtoDecodingError) -> M {
        var decoded: M?
        var failure: ProtoDecodingError?
        bytes.withUnsafeBytes { buffer in
            do throws(ProtoDecodingError) {
                decoded = try decode(buffer, as: type)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return decoded!
    }

    static func decode<M: ProtobufCPackable>(_ buffer: UnsafeRawBufferPointer, as type: M.Type) throws(ProtoDecodingError) -> M {
        // protobuf-c allocates the unpacked tree from the arena; it is released as a whole.
        let arena = ProtoArena(initialCapacity: 4 * buffer.count + 1024)
        defer { withExtendedLifetime(arena) {} }
        var allocator = arena.protobufCAllocator
        var empty: UInt8 = 0
        let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let unpacked = withUnsafePointer(to: &empty) { emptyPointer in
            M.cUnpack(&allocator, buffer.count, base ?? emptyPointer)
        }
        guard let unpacked else { throw .malformed(message: M.protoName) }
        return try M(cMessage: unpacked)
    }

    static func encode<M: ProtobufCPackable>(_ message: M) -> [UInt8] {
        let arena = ProtoArena(initialCapacity: 2048)
        return withExtendedLifetime(arena) {
            let c = arena.message(message)
            let size = M.cPackedSize(c)
            guard size > 0 else { return [] }
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = M.cPack(c, buffer.baseAddress!)
            }
        }
    }

    // MARK: Decoding fields

    /// A string protobuf-c unpacked (so allocated by the arena with its size recorded).
    static func string(_ pointer: UnsafeMutablePointer<CChar>?, field: String, in owner: String) throws(ProtoDecodingError) -> String {
        // Unset strings point at protobuf-c's shared empty string, not into the arena.
        guard let pointer, UnsafePointer(pointer) != meshline_protobuf_c_empty_string() else { return "" }
        let length = strlen(pointer)
        // protobuf-c allocates length + 1 bytes and copies every byte it received; a
        // shorter C string means the wire value held a NUL, which would be cut off.
        guard ProtoArena.allocatedSize(of: pointer) == length + 1 else {
            throw .nulInString(message: owner, field: field)
        }
        // String(validatingCString:) is specialized for UTF-8; the generic
        // String(validating:as:) cost a metadata lookup per string.
        guard let value = String(validatingCString: pointer) else {
            throw .invalidUTF8(message: owner, field: field)
        }
        return value
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    static func enumValue<E: ProtobufCEnum>(_ raw: some BinaryInteger, field: String, in owner: String, as type: E.Type) throws(ProtoDecodingError) -> E {
        let number = Int32(truncatingIfNeeded: raw)
        guard let value = E(rawValue: number) else {
            throw .unknownEnumValue(message: owner, field: field, value: number)
        }
        return value
    }

    static func message<M: ProtobufCBridged>(_ pointer: UnsafeMutablePointer<M.CMessage>?, field: String, in owner: String, as type: M.Type) throws(ProtoDecodingError) -> M? {
        guard let pointer else { return nil }
        do {
            return try M(cMessage: pointer)
        } catch {
            throw error.nested(in: field, of: owner)
        }
    }

    static func requiredMessage<M: ProtobufCBridged>(_ pointer: UnsafeMutablePointer<M.CMessage>?, field: String, in owner: String, as type: M.Type) throws(ProtoDecodingError) -> M {
        guard let value = try message(pointer, field: field, in: owner, as: type) else {
            throw .missingRequiredField(message: owner, field: field)
        }
        return value
    }

    static func messages<M: ProtobufCBridged>(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?, count: Int, field: String, in owner: String, as type: M.Type) throws(ProtoDecodingError) -> [M] {
        guard count > 0, let pointers else { return [] }
        var values: [M] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            guard let pointer = pointers[index] else { throw .malformed(message: owner) }
            do {
                values.append(try M(cMessage: pointer))
            } catch {
                throw error.nested(in: "\(field)[\(index)]", of: owner)
            }
        }
        return values
    }

    static func strings(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int, field: String, in owner: String) throws(ProtoDecodingError) -> [String] {
        guard count > 0, let pointers else { return [] }
        var values: [String] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            values.append(try string(pointers[index], field: "\(field)[\(index)]", in: owner))
        }
        return values
    }

    static func byteArrays(_ pointer: UnsafeMutablePointer<ProtobufCBinaryData>?, count: Int) -> [[UInt8]] {
        guard count > 0, let pointer else { return [] }
        return UnsafeBufferPointer(start: pointer, count: count).map(bytes)
    }

    static func enums<C: RawRepresentable, E: ProtobufCEnum>(_ pointer: UnsafeMutablePointer<C>?, count: Int, field: String, in owner: String, as type: E.Type) throws(ProtoDecodingError) -> [E] where C.RawValue: BinaryInteger {
        guard count > 0, let pointer else { return [] }
        var values: [E] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            values.append(try enumValue(pointer[index].rawValue, field: "\(field)[\(index)]", in: owner, as: type))
        }
        return values
    }

    static func bools(_ pointer: UnsafeMutablePointer<protobuf_c_boolean>?, count: Int) -> [Bool] {
        guard count > 0, let pointer else { return [] }
        return UnsafeBufferPointer(start: pointer, count: count).map { $0 != 0 }
    }

    static func scalars<T>(_ pointer: UnsafeMutablePointer<T>?, count: Int) -> [T] {
        guard count > 0, let pointer else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    // MARK: Encoding fields

    /// The C enum's raw value for a proto enum number (C enums import as UInt32 or Int32).
    static func cEnumRawValue<T: FixedWidthInteger>(_ number: Int32) -> T {
        T(truncatingIfNeeded: number)
    }
}
