import GreylistSystem
import Foundation
import Greylist

/// Log lines on standard error: `2026-11-25T10:00:00Z INFO banned 203.0.113.7/32 rule botnet …`.
///
/// Each line is one `write(2)`, so lines from different threads never interleave.
struct Log: Sendable {
    enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error

        var label: String {
            switch self {
            case .debug: return "DEBUG"
            case .info: return "INFO"
            case .warning: return "WARN"
            case .error: return "ERROR"
            }
        }

        static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    var minimum: Level = .info
    var descriptor: Int32 = 2

    func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }
    func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    func warning(_ message: @autoclosure () -> String) { write(.warning, message()) }
    func error(_ message: @autoclosure () -> String) { write(.error, message()) }

    /// A message of several lines (a configuration error and its list of problems) as one
    /// record per line, each escaped on its own: the block reads as a block, and no line of it
    /// can forge another record.
    func block(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimum else { return }
        for line in message().split(separator: "\n", omittingEmptySubsequences: false) { write(level, String(line)) }
    }

    func write(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimum else { return }
        // Whatever a message holds (a username, a reason from the admin socket), it stays one line.
        let line = "\(Date().formatted(.iso8601)) \(level.label) \(OperatorText.escaped(message(), doublingBackslashes: false))\n"
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { Syscalls.writeFile(descriptor, $0) }
    }
}
