import Foundation
import Glibc
import Greylist
import GreylistAdmin
import GreylistTestSupport
import Testing

/// The operator verbs as a library: a host's own greylist behind `GreylistAdminServer`, driven by
/// the `greylist-admin` tool (no demo server involved).
@Suite(.serialized) struct AdminLibraryTests {
    /// Runs `greylist-admin` (beside this test binary) with `arguments`; its status and output.
    func tool(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let testBinary = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let process = Process()
        process.executableURL = testBinary.deletingLastPathComponent().appendingPathComponent("greylist-admin")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return await Blocking.run {
            let text = Pipes.read(output.fileHandleForReading.fileDescriptor, until: nil, within: 20)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
    }

    @Test("a server on its state directory's admin.sock is found by greylist-admin --state DIR")
    func stateDirectory() async throws {
        let directory = temporaryStateDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(), stateDirectory: directory, stateSync: false))
        let server = GreylistAdminServer(stateDirectory: directory, greylist: greylist)
        try server.start()
        #expect(server.path == directory + "/admin.sock")
        let banned = try await tool(["ban", "198.51.100.7", "--state", directory])
        #expect(banned.status == 0, "\(banned.output)")
        #expect(try await tool(["list", "--state", directory]).output.contains("198.51.100.7/32"))
        await server.stop()
        await greylist.closeStore()
    }

    @Test("a host's greylist behind GreylistAdminServer: greylist-admin bans, lists, counts and unbans; the host's counters and log lines come through")
    func hostServesTheVerbs() async throws {
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: GreylistConfiguration.recommendedRules()))
        let socket = "/tmp/greylist-admin-library-\(UInt32.random(in: 0...UInt32.max)).sock"
        let lines = LockedLines()
        let server = GreylistAdminServer(path: socket, greylist: greylist, options: .init(extraStatistics: { ["hostCounter": 7] },
                                                                                       log: { lines.append($0) }))
        try server.start()
        let banned = try await tool(["ban", "203.0.113.0/24", "--for", "2 hours", "--reason", "abuse desk", "--socket", socket])
        #expect(banned.status == 0 && banned.output.contains("203.0.113.0/24"), "\(banned.output)")
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.9")))
        #expect(try #require(await greylist.list().first).expiresAt.timeIntervalSince(Date()) > 7_000)
        let listed = try await tool(["list", "--socket", socket])
        #expect(listed.output.contains("manual \"abuse desk\""), "\(listed.output)")
        let stats = try await tool(["stats", "--socket", socket])
        #expect(stats.output.contains("hostCounter") && stats.output.contains("manualBans"), "\(stats.output)")
        let wide = try await tool(["ban", "10.0.0.0/8", "--socket", socket])
        #expect(wide.status == 1 && wide.output.contains("--force"), "\(wide.output)")
        #expect(try await tool(["unban", "203.0.113.0/24", "--socket", socket]).status == 0)
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.9")))
        #expect(lines.all.contains { $0.contains("unban 203.0.113.0/24 lifted 1 ban(s)") }, "\(lines.all)")
        await server.stop()
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket file is removed at stop")
        let usage = try await tool(["list"])
        #expect(usage.status == 2 && usage.output.contains("--socket PATH or --state DIR is required"), "\(usage.output)")
    }
}

/// Lines a test collects from a callback on any thread.
final class LockedLines: Sendable {
    private let storage = LockedValue<[String]>([])

    func append(_ line: String) { storage.withLock { $0.append(line) } }

    var all: [String] { storage.withLock { $0 } }
}
