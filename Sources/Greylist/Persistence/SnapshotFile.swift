/// The snapshot file, whatever its version: versions 3 and 4 are binary (``BinarySnapshot``;
/// 4 is the one written); versions 1 and 2 are text (a header line with the covered generation, record count
/// and CRC, then journal record lines) and still read.
enum SnapshotFile {
    struct Problem: Error {
        var reason: String
    }

    /// Decodes any version into `state`.
    ///
    /// - Returns: The generation the snapshot covers, and warnings for records skipped.
    static func decode(_ bytes: [UInt8], into state: inout RecoveredState) -> Result<(covers: UInt64, warnings: [String]), Problem> {
        if bytes.starts(with: Array("greylist-snapshot 3 ".utf8)) || bytes.starts(with: Array("greylist-snapshot 4 ".utf8)) {
            return BinarySnapshot.decode(bytes, into: &state).map { result in
                (result.covers, result.skipped > 0 ? ["snapshot: skipped \(result.skipped) record(s) that make no sense"] : [])
            }
        }
        return decodeText(bytes, into: &state)
    }

    /// Versions 1 and 2: validated whole (count and CRC) before any record is applied.
    private static func decodeText(_ bytes: [UInt8], into state: inout RecoveredState) -> Result<(covers: UInt64, warnings: [String]), Problem> {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return .failure(Problem(reason: "no header")) }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == "greylist-snapshot" else { return .failure(Problem(reason: "not a snapshot header")) }
        guard fields[1] == "1" || fields[1] == "2" else { return .failure(Problem(reason: "unknown format version \(fields[1])")) }
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
        var warnings: [String] = []
        for record in records where !record.apply(to: &state) {
            warnings.append("snapshot: skipped a record that makes no sense (\(record.op) \(OperatorText.escaped(record.network)))")
        }
        return .success((covers, warnings))
    }

    /// The value of a `name=value` header field.
    static func value(_ field: Substring, _ name: String) -> Substring? {
        field.hasPrefix(name + "=") ? field.dropFirst(name.count + 1) : nil
    }
}
