/// The snapshot file, format version 3: built for loading.
///
/// A text header line for people and tools (`greylist-snapshot 3 covers=<generation>
/// bytes=<n> crc=<crc32>`), then a little-endian binary body with one CRC-32 over it:
///
/// - reasons: `u32` count, then per reason `u8` kind (0 rule, 1 manual), `u32` length, UTF-8;
/// - usernames: `u32` count, then per key `u8` IPv4 flag, `u8` prefix length, `u64` ×2 key,
///   `u16` length, UTF-8;
/// - tables: `u32` count, then per table `u8` trust flag, `u8` IPv4 flag, `u8` prefix length
///   over 128 bits, `u8` 0, `u64` slot count, and 40 bytes per slot (`u64` ×2 key, `i64`
///   expiry, `i64` start, `u32` refused count, `u16` count and flags, `u16` reason index).
///
/// A million bans load in one read, one CRC pass and one insertion per slot into a table sized
/// once. Every field is checked: a slot whose key, prefix or reason makes no sense is skipped
/// and counted, never trusted.
enum BinarySnapshot {
    static let formatVersion = 3
    private static let slotSize = 40

    static func encode(_ image: StateImage, covering generation: UInt64) -> [UInt8] {
        var body = ByteWriter(capacity: 64 + image.slotCount * slotSize + image.users.count * 48)
        body.append(UInt32(image.reasons.count))
        for reason in image.reasons {
            switch reason {
            case .rule(let name): body.append(UInt8(0)); body.appendText(name, lengthBytes: 4)
            case .manual(let text): body.append(UInt8(1)); body.appendText(text, lengthBytes: 4)
            }
        }
        body.append(UInt32(image.users.count))
        for (key, user) in image.users {
            body.append(UInt8(key.address.isIPv4 ? 1 : 0))
            body.append(UInt8(key.prefixLength))
            body.append(UInt64(truncatingIfNeeded: key.address.bits >> 64))
            body.append(UInt64(truncatingIfNeeded: key.address.bits))
            body.appendText(String(decoding: user.utf8.prefix(Int(UInt16.max)), as: UTF8.self), lengthBytes: 2)
        }
        body.append(UInt32(image.tables.count))
        for table in image.tables {
            body.append(UInt8(table.isTrust ? 1 : 0))
            body.append(UInt8(table.isIPv4 ? 1 : 0))
            body.append(UInt8(table.widePrefixLength))
            body.append(UInt8(0))
            body.append(UInt64(table.slots.count))
            for slot in table.slots {
                body.append(slot.keyHigh)
                body.append(slot.keyLow)
                body.append(UInt64(bitPattern: slot.expiresAt))
                body.append(UInt64(bitPattern: slot.bannedAt))
                body.append(slot.refusedCount)
                body.append(slot.countAndFlags)
                body.append(slot.reason)
            }
        }
        let crc = body.bytes.withUnsafeBytes { CRC32.checksum($0) }
        let header = "greylist-snapshot \(formatVersion) covers=\(generation) bytes=\(body.bytes.count) crc=\(String(crc, radix: 16))\n"
        return Array(header.utf8) + body.bytes
    }

    /// Decodes a version 3 snapshot (header included) into `state`.
    ///
    /// - Returns: The generation it covers, and how many slots were skipped as senseless.
    static func decode(_ bytes: [UInt8], into state: inout RecoveredState) -> Result<(covers: UInt64, skipped: Int), SnapshotFile.Problem> {
        guard let newline = bytes.prefix(256).firstIndex(of: 0x0A) else { return .failure(.init(reason: "no header")) }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == "greylist-snapshot", fields[1] == "3",
              let covers = SnapshotFile.value(fields[2], "covers").flatMap({ UInt64($0) }),
              let length = SnapshotFile.value(fields[3], "bytes").flatMap({ Int($0) }),
              let crc = SnapshotFile.value(fields[4], "crc").flatMap({ UInt32($0, radix: 16) }) else {
            return .failure(.init(reason: "unreadable header"))
        }
        return bytes.withUnsafeBytes { raw -> Result<(covers: UInt64, skipped: Int), SnapshotFile.Problem> in
            let body = UnsafeRawBufferPointer(rebasing: raw[(newline + 1)...])
            guard body.count == length else { return .failure(.init(reason: "expected \(length) bytes after the header, found \(body.count)")) }
            guard CRC32.checksum(body) == crc else { return .failure(.init(reason: "checksum mismatch")) }
            var reader = ByteReader(body)
            guard let skipped = decodeBody(&reader, into: &state) else {
                return .failure(.init(reason: "truncated or malformed body at byte \(reader.offset)"))
            }
            return .success((covers, skipped))
        }
    }

    private static func decodeBody(_ reader: inout ByteReader, into state: inout RecoveredState) -> Int? {
        // The file's reason indices, mapped to the table being rebuilt.
        guard let reasonCount = reader.read(UInt32.self), reasonCount <= 65_536 else { return nil }
        var reasonMap: [UInt16] = []
        reasonMap.reserveCapacity(Int(reasonCount))
        for _ in 0..<reasonCount {
            guard let kind = reader.read(UInt8.self), kind <= 1, let text = reader.text(lengthBytes: 4) else { return nil }
            reasonMap.append(state.reasons.index(kind == 0 ? .rule(text) : .manual(text)))
        }
        var skipped = 0
        guard let userCount = reader.read(UInt32.self) else { return nil }
        for _ in 0..<userCount {
            guard let isIPv4 = reader.read(UInt8.self), let prefix = reader.read(UInt8.self),
                  let high = reader.read(UInt64.self), let low = reader.read(UInt64.self),
                  let user = reader.text(lengthBytes: 2) else { return nil }
            let address = IPAddress(bits: UInt128(high) << 64 | UInt128(low))
            guard (isIPv4 == 1) == address.isIPv4, let key = try? IPNetwork(address: address, prefixLength: Int(prefix)) else {
                skipped += 1
                continue
            }
            state.users[key] = user
        }
        guard let tableCount = reader.read(UInt32.self) else { return nil }
        for _ in 0..<tableCount {
            guard let isTrust = reader.read(UInt8.self), let isIPv4 = reader.read(UInt8.self),
                  let wide = reader.read(UInt8.self), reader.read(UInt8.self) != nil,
                  let count = reader.read(UInt64.self), count <= UInt64(reader.remaining / slotSize) else { return nil }
            guard isTrust <= 1, isIPv4 <= 1, wide <= 128, isIPv4 == 0 || wide >= 96 else {
                reader.skip(Int(count) * slotSize)
                skipped += Int(count)
                continue
            }
            var table = PrefixTable(isIPv4: isIPv4 == 1, widePrefixLength: Int(wide), capacity: Int(Double(count) / 0.7) + 1)
            for _ in 0..<count {
                guard var slot = reader.slot() else { return nil }
                let key = slot.key
                guard key & ~table.mask == 0, IPAddress(bits: key).isIPv4 == table.isIPv4, slot.expiresAt != 0 else {
                    skipped += 1
                    continue
                }
                slot.reason = Int(slot.reason) < reasonMap.count ? reasonMap[Int(slot.reason)] : 0
                slot.extendedSinceStored = false
                table.upsert(slot)
            }
            state.add(table, isTrust: isTrust == 1)
        }
        return reader.remaining == 0 ? skipped : nil
    }
}

/// Appends little-endian fields to a byte array sized once.
private struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append<Value: FixedWidthInteger>(_ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendText(_ text: String, lengthBytes: Int) {
        let utf8 = Array(text.utf8)
        if lengthBytes == 2 { append(UInt16(utf8.count)) } else { append(UInt32(utf8.count)) }
        bytes.append(contentsOf: utf8)
    }
}

/// Reads little-endian fields, never past the end (`nil` instead).
private struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    var remaining: Int { buffer.count - offset }

    mutating func read<Value: FixedWidthInteger>(_: Value.Type) -> Value? {
        guard remaining >= MemoryLayout<Value>.size else { return nil }
        defer { offset += MemoryLayout<Value>.size }
        return Value(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: Value.self))
    }

    mutating func text(lengthBytes: Int) -> String? {
        let length: Int
        if lengthBytes == 2 {
            guard let value = read(UInt16.self) else { return nil }
            length = Int(value)
        } else {
            guard let value = read(UInt32.self), value <= 1 << 20 else { return nil }
            length = Int(value)
        }
        guard remaining >= length else { return nil }
        defer { offset += length }
        return String(validating: UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)]), as: UTF8.self)
    }

    mutating func skip(_ count: Int) {
        offset = min(offset + count, buffer.count)
    }

    /// One 40-byte slot.
    @inline(__always)
    mutating func slot() -> BanSlot? {
        guard remaining >= 40 else { return nil }
        defer { offset += 40 }
        func field<Value: FixedWidthInteger>(_ at: Int, _: Value.Type) -> Value {
            Value(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + at, as: Value.self))
        }
        return BanSlot(keyHigh: field(0, UInt64.self), keyLow: field(8, UInt64.self),
                       expiresAt: Int64(bitPattern: field(16, UInt64.self)), bannedAt: Int64(bitPattern: field(24, UInt64.self)),
                       refusedCount: field(32, UInt32.self), countAndFlags: field(36, UInt16.self), reason: field(38, UInt16.self))
    }
}
