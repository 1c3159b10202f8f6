#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reading state files: what start-up replays, and the same for a file checked offline.
extension JournalStore {
    /// Replays one journal's lines into `state`, as start-up does: a bad last line is a torn
    /// record (skipped), a bad line before it a damaged one. Returns whether any was damaged.
    static func replayJournal(_ bytes: [UInt8], name: String, into state: inout RecoveredState, warnings: inout [String]) -> Bool {
        var damaged = false
        var start = bytes.startIndex
        var number = 0
        while start < bytes.endIndex {
            let newline = bytes[start...].firstIndex(of: 0x0A)
            let line = bytes[start..<(newline ?? bytes.endIndex)]
            number += 1
            start = (newline ?? bytes.endIndex) + 1
            guard !line.isEmpty else { continue }
            guard let record = JournalRecord.parse(line), record.apply(to: &state) else {
                if newline == nil {
                    warnings.append("\(name): skipped a torn record at the end (\(line.count) bytes)")
                } else {
                    warnings.append("\(name): skipped a damaged record on line \(number)")
                    damaged = true
                }
                continue
            }
        }
        return damaged
    }

    /// Decodes one state file (a snapshot or a journal, told apart by the snapshot header) the
    /// way start-up reads it, without touching a directory: for checking a file offline.
    ///
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - name: Its name, for warnings.
    /// - Returns: The state it holds, with warnings for what was skipped; a damaged snapshot
    ///   gives an empty state and the reason.
    @_spi(Fuzzing) public static func decodeStateFile(_ bytes: [UInt8], name: String) -> GreylistSnapshot {
        var state = RecoveredState()
        var warnings: [String] = []
        if bytes.starts(with: Array("greylist-snapshot ".utf8)) {
            switch SnapshotFile.decode(bytes, into: &state) {
            case .success(let (_, skipped)):
                warnings += skipped
            case .failure(let problem):
                state = RecoveredState()
                warnings.append("\(name) is damaged (\(problem.reason))")
            }
        } else {
            _ = replayJournal(bytes, name: name, into: &state, warnings: &warnings)
        }
        var snapshot = state.snapshot(now: WallClock.milliseconds(Date()))
        snapshot.warnings = warnings
        return snapshot
    }
}
