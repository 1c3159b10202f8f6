/// The snapshot file: a header line with the covered generation, record count and CRC, then records.
enum SnapshotFile {
    /// The version written; versions 1 and 2 are read.
    static let formatVersion = 2

    struct Problem: Error {
        var reason: String
    }

    static func encode(_ records: [JournalRecord], covering generation: UInt64) -> [UInt8] {
        let body = records.flatMap(\.line)
        let header = "greylist-snapshot \(formatVersion) covers=\(generation) records=\(records.count) crc=\(String(CRC32.checksum(body), radix: 16))\n"
        return Array(header.utf8) + body
    }

    static func decode(_ bytes: [UInt8]) -> Result<(UInt64, [JournalRecord]), Problem> {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return .failure(Problem(reason: "no header")) }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == "greylist-snapshot" else { return .failure(Problem(reason: "not a snapshot header")) }
        guard fields[1] == "1" || fields[1] == "2" else { return .failure(Problem(reason: "unknown format version \(fields[1])")) }
        func value(_ field: Substring, _ name: String) -> Substring? {
            field.hasPrefix(name + "=") ? field.dropFirst(name.count + 1) : nil
        }
        guard let covers = value(fields[2], "covers").flatMap({ UInt64($0) }),
              let count = value(fields[3], "records").flatMap({ Int($0) }),
              let crc = value(fields[4], "crc").flatMap({ UInt32($0, radix: 16) }) else {
            return .failure(Problem(reason: "unreadable header"))
        }
        let body = bytes[(newline + 1)...]
        guard CRC32.checksum(body) == crc else { return .failure(Problem(reason: "checksum mismatch")) }
        let lines = body.split(separator: 0x0A)
        let records = lines.compactMap { JournalRecord.parse($0) }
        guard records.count == count, lines.count == count else {
            return .failure(Problem(reason: "expected \(count) records, found \(records.count)"))
        }
        return .success((covers, records))
    }
}
