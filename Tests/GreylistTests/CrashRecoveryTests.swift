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
        for round in 0..<25 {
            let process = Process()
            process.executableURL = try DemoProcessTests.executable
            process.arguments = ["ban-flood", "--state", directory, "--count", "100000"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Kill after a random number of acknowledgements: the child keeps banning meanwhile,
            // so the kill lands mid-write, mid-fsync or mid-compaction.
            let target = Int.random(in: 1...120)
            var seen = 0
            var buffer = ""
            while seen < target {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                while let newline = buffer.firstIndex(of: "\n") {
                    let line = buffer[..<newline]
                    buffer = String(buffer[buffer.index(after: newline)...])
                    if line.hasPrefix("stored ") {
                        acknowledged.insert(try IPNetwork(String(line.dropFirst("stored ".count))))
                        seen += 1
                    }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round)")
            // What a reader got after the kill was also acknowledged before it.
            buffer += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            for line in buffer.split(separator: "\n") where line.hasPrefix("stored ") && line.hasSuffix("/32") {
                acknowledged.insert(try IPNetwork(String(line.dropFirst("stored ".count))))
            }

            let store = try JournalStore(directory: directory)
            let stored = Set(try store.load().bans.map(\.network))
            let missing = acknowledged.subtracting(stored)
            #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged bans missing, e.g. \(missing.prefix(3))")
            await store.close()
        }
        #expect(acknowledged.count >= 25)
    }
}
