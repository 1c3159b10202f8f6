import Foundation
import Greylist

// Restart time of a greylist with a large state directory, through the public API only (so the
// same source measures an older build of the library too).
//   generate DIR COUNT [JOURNAL]  a state directory with COUNT rule bans (each IPv6 source its own
//                                 /64, with a username, 24 h long), then, after a reopen, JOURNAL
//                                 more (default COUNT / 10); the files are what the store left:
//                                 the last snapshot and the journals since (as after a crash)
//   measure DIR [RUNS]            opens the directory RUNS times (default 5): the time until
//                                 `Greylist(configuration:)` returns, which is what the demo does
//                                 before it listens; prints each run and the median
//   demo DIR SERVER [RUNS]        the same for the demo server (SERVER: its executable): the time
//                                 from exec until it logs that it listens, on a fresh copy each run
// Usage: GreylistRestart generate|measure|demo DIR [COUNT|RUNS|SERVER] [JOURNAL|RUNS]

func source(_ index: Int) -> IPAddress {
    IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64 | 1)
}

func configuration(_ directory: String, capacity: Int) -> GreylistConfiguration {
    GreylistConfiguration(
        rules: [GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(86_400))],
        escalation: .init(maxBan: .seconds(7 * 86_400)),
        limits: .init(maxBans: capacity, maxTrackedAddresses: 1_000),
        spraying: .init(distinctSources: 0), ranges: .init(bannedKeys: 0),
        stateDirectory: directory, stateSync: false
    )
}

enum Restart {
    /// Bans `range` through `greylist`, 256 failures in flight at once (the store groups their writes).
    nonisolated static func ban(_ range: Range<Int>, in greylist: Greylist) async {
        var next = range.lowerBound
        while next < range.upperBound {
            let batch = next..<min(next + 256, range.upperBound)
            await withTaskGroup(of: Void.self) { group in
                for index in batch {
                    group.addTask { _ = await greylist.recordFailedAuth(user: "bad_user_\(100_000 + index % 900_000)", ip: source(index)) }
                }
            }
            next = batch.upperBound
        }
    }

    nonisolated static func generate(_ directory: String, count: Int, journal: Int) async throws {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let capacity = count + journal + 1
        do {
            let greylist = try Greylist(configuration: configuration(directory, capacity: capacity))
            await ban(0..<count, in: greylist)
            await greylist.closeStore()
        }
        let greylist = try Greylist(configuration: configuration(directory, capacity: capacity))
        await ban(count..<(count + journal), in: greylist)
        await greylist.closeStore()
        var snapshotBytes = 0
        var journalBytes = 0
        var journalLines = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            if name == "snapshot" { snapshotBytes = data.count }
            if name.hasPrefix("journal-") {
                journalBytes += data.count
                journalLines += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
        }
        print("state directory \(directory): \(count + journal) bans; snapshot \(snapshotBytes / 1_048_576) MiB, "
            + "journals \(journalBytes / 1_048_576) MiB (\(journalLines) records since the snapshot)")
    }

    nonisolated static func measure(_ directory: String, runs: Int) async throws {
        var seconds: [Double] = []
        for run in 1...runs {
            // A fresh copy each run: opening consolidates the journal, and every run must replay it.
            let copy = directory + ".run"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: directory, toPath: copy)
            let start = ContinuousClock.now
            let greylist = try Greylist(configuration: configuration(copy, capacity: 10_000_000))
            let elapsed = ContinuousClock.now - start
            let bans = await greylist.statistics().activeBans
            await greylist.closeStore()
            let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            seconds.append(value)
            try? FileManager.default.removeItem(atPath: copy)
            print(String(format: "run %d: %.3f s to open, %d bans", run, value, bans))
        }
        print(String(format: "median: %.3f s", seconds.sorted()[seconds.count / 2]))
    }

    /// Starts the demo on a copy of `directory` until it logs "listening", `runs` times.
    nonisolated static func measureDemo(_ directory: String, server: String, runs: Int) throws {
        var seconds: [Double] = []
        for run in 1...runs {
            let copy = directory + ".demo"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: directory, toPath: copy)
            let configuration = copy + ".json"
            try """
            {"server": {"port": 0, "adminSocket": ""},
             "greylist": {"stateDirectory": "\(copy)", "stateSync": false, "limits": {"maxBans": 10000000},
                          "spraying": {"distinctSources": 0}, "ranges": {"bannedKeys": 0}}}
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: server)
            process.arguments = ["--config", configuration]
            let log = Pipe()
            process.standardError = log
            let start = ContinuousClock.now
            try process.run()
            var text = ""
            while !text.contains("listening") {
                let data = log.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            let elapsed = ContinuousClock.now - start
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: copy)
            try? FileManager.default.removeItem(atPath: configuration)
            guard text.contains("listening") else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: text]) }
            let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            seconds.append(value)
            print(String(format: "run %d: %.3f s until the demo listens", run, value))
        }
        print(String(format: "median: %.3f s", seconds.sorted()[seconds.count / 2]))
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: GreylistRestart generate DIR COUNT [JOURNAL] | measure DIR [RUNS]")
    exit(2)
}
switch arguments[1] {
case "generate":
    let count = arguments.count > 3 ? Int(arguments[3]) ?? 1_000_000 : 1_000_000
    let journal = arguments.count > 4 ? Int(arguments[4]) ?? count / 10 : count / 10
    try await Restart.generate(arguments[2], count: count, journal: journal)
case "demo":
    guard arguments.count > 3 else {
        print("usage: GreylistRestart demo DIR SERVER [RUNS]")
        exit(2)
    }
    try Restart.measureDemo(arguments[2], server: arguments[3], runs: arguments.count > 4 ? Int(arguments[4]) ?? 3 : 3)
case "measure":
    try await Restart.measure(arguments[2], runs: arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5)
default:
    print("usage: GreylistRestart generate DIR COUNT [JOURNAL] | measure DIR [RUNS]")
    exit(2)
}
