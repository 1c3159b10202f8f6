import GreylistTestSupport
import Foundation
import Glibc
import Testing
@testable import Greylist

/// Kills a process that is banning in a tight loop, at random moments, and checks after every
/// restart that each ban it acknowledged as stored is there.
@Suite(.serialized) struct CrashRecoveryTests {
    @Test("every ban acknowledged as stored survives SIGKILL at a random moment, 25 times")
    func killAtRandomMoments() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var acknowledged: Set<IPNetwork> = []
        let executable = try DemoProcessTests.executable
        for round in 0..<25 {
            // The child runs and is killed off the concurrency pool (its pipe reads block).
            let (lines, reason) = try await Blocking.run { () throws -> ([String], Process.TerminationReason) in
                let process = Process()
                process.executableURL = executable
                process.arguments = ["ban-flood", "--state", directory, "--count", "100000"]
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                try process.run()
                // Kill after a random number of acknowledgements: the child keeps banning
                // meanwhile, so the kill lands mid-write, mid-fsync or mid-compaction.
                let target = Int.random(in: 1...120)
                var buffer = ""
                let deadline = Date().addingTimeInterval(30)
                while buffer.components(separatedBy: "\n").count - 1 < target, Date() < deadline {
                    // Bounded: a child that stops writing fails the round instead of hanging it.
                    let data = Pipes.read(output.fileHandleForReading.fileDescriptor, until: "\n", within: deadline.timeIntervalSinceNow)
                    if data.isEmpty { break }
                    buffer += data
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                // What a reader got after the kill was also acknowledged before it.
                buffer += Pipes.read(output.fileHandleForReading.fileDescriptor, until: nil, within: 10)
                return (buffer.components(separatedBy: "\n"), process.terminationReason)
            }
            #expect(reason == .uncaughtSignal, "round \(round)")
            for line in lines where line.hasPrefix("stored ") && line.hasSuffix("/32") {
                acknowledged.insert(try IPNetwork(String(line.dropFirst("stored ".count))))
            }

            let store = try await JournalStore.open(directory: directory)
            let stored = Set(try store.load().bans.map(\.network))
            let missing = acknowledged.subtracting(stored)
            #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged bans missing, e.g. \(missing.prefix(3))")
            await store.close()
        }
        #expect(acknowledged.count >= 25)
    }
}
