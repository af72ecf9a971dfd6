internal import CProtobufC

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A bump allocator for the C side of one encode or decode.
///
/// Building a protobuf-c struct tree needs many small allocations (strings,
/// pointer arrays, sub-messages) that all die together once the bytes are
/// packed or the values copied out. The arena hands them out from a few large
/// blocks and frees the blocks in `deinit`, so a message costs a handful of
/// `malloc` calls instead of one per field. It also serves as protobuf-c's
/// allocator during unpacking; protobuf-c's `free` calls are then no-ops.
///
/// Not thread-safe: one arena belongs to one encode or decode call.
final class ProtoArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer
    private var remaining: Int
    private var nextBlockSize: Int

    private static let alignment = 16

    init(initialCapacity: Int) {
        let size = Self.roundUp(max(initialCapacity, 256))
        cursor = Self.newBlock(size)
        blocks.append(cursor)
        remaining = size
        nextBlockSize = size * 2
    }

    deinit {
        for block in blocks { free(block) }
    }

    private static func roundUp(_ size: Int) -> Int {
        (size + alignment - 1) & ~(alignment - 1)
    }

    private static func newBlock(_ size: Int) -> UnsafeMutableRawPointer {
        guard let block = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        return block
    }

    /// `byteCount` bytes aligned to 16, valid until the arena is released.
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = Self.roundUp(max(byteCount, 1))
        if size > remaining {
            if size > nextBlockSize / 2 {
                // A large request gets a block of its own; the current block stays in use.
                let block = Self.newBlock(size)
                blocks.append(block)
                return block
            }
            cursor = Self.newBlock(nextBlockSize)
            blocks.append(cursor)
            remaining = nextBlockSize
            nextBlockSize *= 2
        }
        let result = cursor
        cursor += size
        remaining -= size
        return result
    }

    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        precondition(MemoryLayout<T>.alignment <= Self.alignment)
        return allocate(byteCount: MemoryLayout<T>.stride * count).bindMemory(to: T.self, capacity: count)
    }

    /// `byteCount` bytes with the size recorded in front of them, for protobuf-c's
    /// allocations while unpacking: a string's allocation is its length plus one,
    /// which reveals strings that held a NUL byte (see ``allocatedSize(of:)``).
    func allocateRecordingSize(byteCount: Int) -> UnsafeMutableRawPointer {
        let base = allocate(byteCount: byteCount + Self.alignment)
        base.storeBytes(of: byteCount, toByteOffset: Self.alignment - MemoryLayout<Int>.size, as: Int.self)
        return base + Self.alignment
    }

    /// The size given to ``allocateRecordingSize(byteCount:)`` for `pointer`.
    static func allocatedSize(of pointer: UnsafeRawPointer) -> Int {
        (pointer - MemoryLayout<Int>.size).load(as: Int.self)
    }

    /// protobuf-c's allocator interface, backed by this arena. Valid while the arena lives.
    var protobufCAllocator: ProtobufCAllocator {
        ProtobufCAllocator(
            alloc: arenaAlloc,
            free: arenaFree,
            allocator_data: Unmanaged.passUnretained(self).toOpaque()
        )
    }

    // MARK: Values for C struct fields

    /// A NUL-terminated copy of the string's UTF-8 bytes.
    func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        let copy: UnsafeMutablePointer<CChar>? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            copyCString(UnsafeRawBufferPointer(utf8))
        }
        if let copy { return copy }
        return Array(value.utf8).withUnsafeBytes { copyCString($0) }
    }

    private func copyCString(_ utf8: UnsafeRawBufferPointer) -> UnsafeMutablePointer<CChar> {
        let target = allocate(byteCount: utf8.count + 1)
        if let base = utf8.baseAddress { target.copyMemory(from: base, byteCount: utf8.count) }
        target.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
        return target.assumingMemoryBound(to: CChar.self)
    }

    func bytes(_ value: [UInt8]) -> ProtobufCBinaryData {
        let target = allocate(UInt8.self, count: value.count)
        value.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { target.update(from: base, count: source.count) }
        }
        return ProtobufCBinaryData(len: value.count, data: target)
    }

    func message<M: ProtobufCBridged>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let target = allocate(M.CMessage.self)
        M.cInitialize(target)
        value.fill(target, arena: self)
        return target
    }

    func messages<M: ProtobufCBridged>(_ values: [M]) -> UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?> {
        let target = allocate(UnsafeMutablePointer<M.CMessage>?.self, count: values.count)
        for (index, value) in values.enumerated() {
            (target + index).initialize(to: message(value))
        }
        return target
    }

    func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let target = allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
        for (index, value) in values.enumerated() {
            (target + index).initialize(to: string(value))
        }
        return target
    }

    func byteArrays(_ values: [[UInt8]]) -> UnsafeMutablePointer<ProtobufCBinaryData> {
        let target = allocate(ProtobufCBinaryData.self, count: values.count)
        for (index, value) in values.enumerated() {
            (target + index).initialize(to: bytes(value))
        }
        return target
    }

    func enums<E: ProtobufCEnum, C: RawRepresentable>(_ values: [E], as type: C.Type) -> UnsafeMutablePointer<C> where C.RawValue: FixedWidthInteger {
        let target = allocate(C.self, count: values.count)
        for (index, value) in values.enumerated() {
            (target + index).initialize(to: C(rawValue: ProtoC.cEnumRawValue(value.rawValue))!)
        }
        return target
    }

    func bools(_ values: [Bool]) -> UnsafeMutablePointer<protobuf_c_boolean> {
        let target = allocate(protobuf_c_boolean.self, count: values.count)
        for (index, value) in values.enumerated() {
            (target + index).initialize(to: value ? 1 : 0)
        }
        return target
    }

    func scalars<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let target = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { target.initialize(from: base, count: source.count) }
        }
        return target
    }
}

private func arenaAlloc(_ data: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    // The arena outlives the unpack call that uses it, so no retain is needed here.
    Unmanaged<ProtoArena>.fromOpaque(data!)._withUnsafeGuaranteedRef { $0.allocateRecordingSize(byteCount: size) }
}

private func arenaFree(_ data: UnsafeMutableRawPointer?, _ pointer: UnsafeMutableRawPointer?) {
    // Released with the whole arena.
}
