import Foundation
import Glibc
import Greylist

/// Collects every event the greylist emits.
package final class EventRecorder: Sendable {
    private let storage = LockedValue<[GreylistEvent]>([])

    package init() {}

    package var events: [GreylistEvent] { storage.withLock { $0 } }

    package var sink: @Sendable (GreylistEvent) -> Void {
        { event in self.storage.withLock { $0.append(event) } }
    }
}

/// The seed's rule: one matching failure bans for four hours.
package let botnetRule = GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))

/// Runs blocking work (socket reads, child-process pipes, waits) on a serial queue of its own,
/// which Dispatch backs with an overcommit thread: never on the Swift concurrency pool or the
/// width-limited global queue, which the demo server's actor and connections need to answer.
/// Bounded reads of a pipe, for code already off the concurrency pool.
package enum Pipes {
    /// Reads until `marker` appears (or, with `nil`, until end of file) or `seconds` pass.
    package static func read(_ descriptor: Int32, until marker: String?, within seconds: Double) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var text = ""
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while marker.map({ !text.contains($0) }) ?? true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(left * 1_000) + 1) > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            text += String(decoding: chunk[..<count], as: UTF8.self)
        }
        return text
    }
}

package enum Processes {
    /// Runs `executable` with `arguments` to its end, blocking (call it off the concurrency
    /// pool); killed past 20 s, so a hung child fails the test instead of hanging it.
    package static func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        let text = Pipes.read(output.fileHandleForReading.fileDescriptor, until: nil, within: 20)
        let problems = Pipes.read(errors.fileHandleForReading.fileDescriptor, until: nil, within: 1)
        if ended.wait(timeout: .now() + 20) != .success { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, text, problems)
    }
}

package enum Blocking {
    /// Reads `descriptor` until `marker` appears or `seconds` pass (each wait is a `poll` with the
    /// time left): a regression fails the test instead of hanging it.
    package static func read(_ descriptor: Int32, until marker: String, within seconds: Double) async -> String {
        await run { Pipes.read(descriptor, until: marker, within: seconds) }
    }

    package static func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "greylist.tests.blocking").async { continuation.resume(returning: body()) }
        }
    }

    package static func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "greylist.tests.blocking").async { continuation.resume(with: Result { try body() }) }
        }
    }
}

extension JournalStore {
    /// Appends a change outside a greylist: no state to snapshot, so compaction writes an empty one.
    package func append(_ change: GreylistChange) -> UInt64 {
        append(change) { GreylistSnapshot() }
    }
}

/// A fresh state directory per test.
package func temporaryStateDirectory() -> String {
    let path = NSTemporaryDirectory() + "greylist-state-\(UInt64.random(in: 0...UInt64.max))"
    try? FileManager.default.removeItem(atPath: path)
    return path
}
