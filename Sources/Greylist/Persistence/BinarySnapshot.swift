/// The snapshot file, format version 4: built for loading.
///
/// A text header line for people and tools (`greylist-snapshot 4 covers=<generation>
/// bytes=<n> crc=<crc32>`), then a little-endian binary body with one CRC-32 over it:
///
/// - reasons: `u32` count, then per reason `u8` kind (0 rule, 1 manual), `u32` length, UTF-8;
/// - usernames: `u32` count, then per key `u8` IPv4 flag, `u8` prefix length, `u64` ×2 key,
///   `u16` length, UTF-8;
/// - tables: `u32` count, then per table `u8` trust flag, `u8` IPv4 flag, `u8` prefix length
///   over 128 bits, `u8` 0, `u64` slot count, and 40 bytes per slot (`u64` ×2 key, `i64`
///   expiry, `i64` start, `u32` refused count, `u16` count and flags, `u16` reason index);
/// - marks: `u32` count, then per mark `u8` kind (0 an account trusted on a key, 1 an account's
///   guesses from a key used up, 2 a bot's name, 3 a soft-trust network), for kinds 0, 1 and 3
///   the network (`u8` IPv4 flag, `u8` prefix length, `u64` ×2), for kinds 0, 1 and 2 the name
///   (`u16` length, UTF-8) and the `i64` end.
///
/// Version 3 is version 4 without marks, and is still read.
/// A million bans load in one read, one CRC pass and one insertion per slot into a table sized
/// once. Every field is checked: a slot whose key, prefix or reason makes no sense is skipped
/// and counted, never trusted.
enum BinarySnapshot {
    static let formatVersion = 4
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
        encodeMarks(image.marks, into: &body)
        let crc = body.bytes.withUnsafeBytes { CRC32.checksum($0) }
        let header = "greylist-snapshot \(formatVersion) covers=\(generation) bytes=\(body.bytes.count) crc=\(String(crc, radix: 16))\n"
        return Array(header.utf8) + body.bytes
    }

    private static func encodeMarks(_ marks: StoredMarks, into body: inout ByteWriter) {
        func network(_ key: IPNetwork) {
            body.append(UInt8(key.address.isIPv4 ? 1 : 0))
            body.append(UInt8(key.prefixLength))
            body.append(UInt64(truncatingIfNeeded: key.address.bits >> 64))
            body.append(UInt64(truncatingIfNeeded: key.address.bits))
        }
        func name(_ text: String, until: Int64) {
            body.appendText(String(decoding: text.utf8.prefix(Int(UInt16.max)), as: UTF8.self), lengthBytes: 2)
            body.append(UInt64(bitPattern: until))
        }
        body.append(UInt32(marks.count))
        for (kind, table) in [(UInt8(0), marks.trustedAccounts), (UInt8(1), marks.blockedLogins)] {
            for (pair, until) in table {
                body.append(kind)
                network(pair.key)
                name(pair.account, until: until)
            }
        }
        for (text, until) in marks.names {
            body.append(UInt8(2))
            name(text, until: until)
        }
        for key in marks.softTrust {
            body.append(UInt8(3))
            network(key)
        }
    }

    /// Decodes a version 3 or 4 snapshot (header included) into `state`.
    ///
    /// - Returns: The generation it covers, and how many slots were skipped as senseless.
    static func decode(_ bytes: [UInt8], into state: inout RecoveredState) -> Result<(covers: UInt64, skipped: Int), SnapshotFile.Problem> {
        guard let newline = bytes.prefix(256).firstIndex(of: 0x0A) else { return .failure(.init(reason: "no header")) }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == "greylist-snapshot", fields[1] == "3" || fields[1] == "4",
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
            guard let skipped = decodeBody(&reader, withMarks: fields[1] == "4", into: &state) else {
                return .failure(.init(reason: "truncated or malformed body at byte \(reader.offset)"))
            }
            return .success((covers, skipped))
        }
    }

    private static func decodeBody(_ reader: inout ByteReader, withMarks: Bool, into state: inout RecoveredState) -> Int? {
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
        if withMarks {
            guard let marks = decodeMarks(&reader, into: &state) else { return nil }
            skipped += marks
        }
        return reader.remaining == 0 ? skipped : nil
    }

    /// Reads the marks section; returns how many marks made no sense, `nil` when malformed.
    private static func decodeMarks(_ reader: inout ByteReader, into state: inout RecoveredState) -> Int? {
        guard let count = reader.read(UInt32.self), Int(count) <= reader.remaining / 2 else { return nil }
        var skipped = 0
        for _ in 0..<count {
            guard let kind = reader.read(UInt8.self), kind <= 3 else { return nil }
            var key: IPNetwork?
            var sensible = true
            if kind != 2 {
                guard let isIPv4 = reader.read(UInt8.self), let prefix = reader.read(UInt8.self),
                      let high = reader.read(UInt64.self), let low = reader.read(UInt64.self) else { return nil }
                let address = IPAddress(bits: UInt128(high) << 64 | UInt128(low))
                key = (isIPv4 == 1) == address.isIPv4 ? try? IPNetwork(address: address, prefixLength: Int(prefix)) : nil
                sensible = key.map { $0.address == address } ?? false
            }
            if kind == 3 {
                if sensible, let key { _ = state.marks.apply(.softTrustChanged(key, added: true)) } else { skipped += 1 }
                continue
            }
            guard let name = reader.text(lengthBytes: 2), let until = reader.read(UInt64.self).map({ Int64(bitPattern: $0) }) else { return nil }
            let end = WallClock.date(until)
            switch (kind, key) {
            case (0, let key?) where sensible: _ = state.marks.apply(.accountTrusted(AccountMark(network: key, account: name, until: end)))
            case (1, let key?) where sensible: _ = state.marks.apply(.loginsBlocked(AccountMark(network: key, account: name, until: end)))
            case (2, _): _ = state.marks.apply(.nameMarked(NameMark(name: name, until: end)))
            default: skipped += 1
            }
        }
        return skipped
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
