import CFuzzDriver
@_spi(Fuzzing) import Greylist

/// Journal and snapshot decoding on arbitrary bytes, as start-up reads them
/// (`JournalStore.decodeStateFile`): records parsed, CRC-checked, applied; it must decode or
/// warn, never trap.
///
/// The first byte picks a mode. Even: the bytes as they are (checksums guard the parsers).
/// Odd: the checksums are repaired first (each journal line's, or a binary snapshot's header),
/// so mutations reach the hand-written JSON reader and the binary snapshot's body.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: count))
    if let mode = bytes.first {
        bytes.removeFirst()
        if mode & 1 == 1 { bytes = repairChecksums(bytes) }
    }
    let snapshot = JournalStore.decodeStateFile(bytes, name: "fuzz")
    for ban in snapshot.bans { _ = ban.description }
    return 0
}

/// Rewrites a binary snapshot's header for its body, or every journal line's CRC for its JSON.
func repairChecksums(_ bytes: [UInt8]) -> [UInt8] {
    if bytes.starts(with: Array("greylist-snapshot 3 ".utf8)), let newline = bytes.firstIndex(of: 0x0A) {
        let body = Array(bytes[(newline + 1)...])
        return Array("greylist-snapshot 3 covers=1 bytes=\(body.count) crc=\(hex(crc32(body)))\n".utf8) + body
    }
    var repaired: [UInt8] = []
    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
        if line.count > 9, line[line.startIndex + 8] == UInt8(ascii: " ") {
            repaired += Array(hex(crc32(Array(line.dropFirst(9)))).utf8) + line.dropFirst(8)
        } else {
            repaired += line
        }
        repaired.append(0x0A)
    }
    repaired.removeLast()
    return repaired
}

func hex(_ value: UInt32) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 8 - text.count) + text
}

/// CRC-32 (zlib's), bit by bit: slow and obviously right, independent of the library's.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}

@_cdecl("FuzzJournal_main")
public func fuzzJournalMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzJournal($0, $1) }
}
