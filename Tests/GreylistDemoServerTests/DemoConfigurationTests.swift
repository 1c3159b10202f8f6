import GreylistAdmin
import GreylistSystem
import GreylistTestSupport
import Foundation
import Glibc
import Testing
import Greylist
@testable import GreylistDemoServer

@Suite struct DemoConfigurationTests {
    @Test("reads config.example.json: server and greylist sections")
    func readsExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configuration = try DemoConfiguration(contentsOf: root.appendingPathComponent("config.example.json").path)
        #expect(configuration.server.port == 5222)
        #expect(configuration.server.users["demo"] == "demo-password")
        #expect(configuration.greylist.rules.first?.name == "botnet")
        #expect(configuration.greylist.rules == DemoConfiguration.defaultGreylist.rules, "the example shows the recommended rules")
        #expect(configuration.greylist.trust == DemoConfiguration.defaultGreylist.trust)
        #expect(configuration.greylist.knocking == DemoConfiguration.defaultGreylist.knocking)
        #expect(configuration.greylist.spraying == DemoConfiguration.defaultGreylist.spraying)
        #expect(configuration.greylist.ranges == DemoConfiguration.defaultGreylist.ranges)
        // Every key the example shows has its built-in default: running on the example and on
        // no file at all is the same server.
        #expect(configuration == DemoConfiguration(), "config.example.json and the built-in defaults differ")
    }

    @Test("the built-in defaults are the recommended ones: 127.0.0.1:5222, localhost, one demo account, the botnet, unknown-accounts and guessing rules")
    func defaults() {
        let configuration = DemoConfiguration()
        #expect(configuration.server.host == "127.0.0.1")
        #expect(configuration.server.port == 5222)
        #expect(configuration.server.domain == "localhost")
        #expect(configuration.server.users == ["demo": "demo-password"])
        #expect(configuration.greylist.rules.map(\.name) == ["botnet", "unknown-accounts", "guessing"])
        #expect(configuration.greylist.rules.map(\.pattern) == ["^bad_user_[0-9]{5,}$", nil, nil])
        #expect(configuration.greylist.rules.first?.banFor == .seconds(4 * 3_600))
        #expect(configuration.greylist.rules[1].counts == [.unknownAccount])
    }

    @Test("greylist.cluster: the Redis URL, namespace and node, with bad values named and the password never shown")
    func cluster() throws {
        let keyFile = try DemoServerFixture.clusterKeyFile()
        let good = #"{"greylist": {"cluster": {"redis": "redis://greylist:s3cret@127.0.0.1:6390/2", "namespace": "{xmpp}", "node": "xmpp-1", "timeout": "5s", "keyFile": "\#(keyFile)"}}}"#
        let configuration = try DemoConfiguration(json: Data(good.utf8), file: "good.json")
        let cluster = try #require(configuration.cluster)
        #expect(cluster.namespace == "{xmpp}" && cluster.node == "xmpp-1" && cluster.timeout == .seconds(5))
        #expect(configuration.greylist.stateDirectory == DemoConfiguration.defaultStateDirectory, "the rest of the section is read as before")
        let settings = try cluster.storeSettings(for: configuration.greylist)
        #expect(settings.port == 6390 && settings.database == 2 && settings.username == "greylist" && settings.password == "s3cret")
        #expect(settings.historyRetention == configuration.greylist.escalation.forgetAfter)
        #expect(DemoConfiguration().cluster == nil)

        let bad = #"{"greylist": {"cluster": {"redis": "redis://:s3cret@127.0.0.1:port", "namespace": "a b", "nodes": 1, "keyFile": "\#(keyFile)"}}}"#
        do {
            _ = try DemoConfiguration(json: Data(bad.utf8), file: "bad.json")
            Issue.record("accepted a bad cluster")
        } catch {
            let text = error.description
            #expect(text.contains("greylist.cluster.redis = \"redis://***@127.0.0.1:port\""), "\(text)")
            #expect(text.contains("greylist.cluster.nodes = 1: unknown key"), "\(text)")
            #expect(!text.contains("s3cret"))
        }
        do {
            _ = try DemoConfiguration(json: Data(#"{"greylist": {"cluster": {"namespace": "a b"}}}"#.utf8), file: "bad.json")
            Issue.record("accepted a cluster without redis")
        } catch {
            #expect(error.description.contains("greylist.cluster.redis"), "\(error)")
        }
    }

    @Test("a cluster needs a key file that others cannot read; a URL with a typo never shows its password")
    func clusterKeyAndTypos() throws {
        func problems(_ cluster: String) -> String {
            do {
                _ = try DemoConfiguration(json: Data(#"{"greylist": {"cluster": \#(cluster)}}"#.utf8), file: "c.json")
                return ""
            } catch {
                return error.description
            }
        }
        #expect(problems(#"{"redis": "redis://127.0.0.1:6379/0"}"#).contains("greylist.cluster.keyFile"))
        let open = NSTemporaryDirectory() + "greylist-open-\(UUID().uuidString).key"
        _ = FileManager.default.createFile(atPath: open, contents: Data(String(repeating: "k", count: 32).utf8), attributes: [.posixPermissions: 0o644])
        defer { try? FileManager.default.removeItem(atPath: open) }
        #expect(problems(#"{"redis": "redis://127.0.0.1:6379/0", "keyFile": "\#(open)"}"#).contains("open to other users"))
        let short = NSTemporaryDirectory() + "greylist-short-\(UUID().uuidString).key"
        _ = FileManager.default.createFile(atPath: short, contents: Data("tiny\n".utf8), attributes: [.posixPermissions: 0o600])
        defer { try? FileManager.default.removeItem(atPath: short) }
        #expect(problems(#"{"redis": "redis://127.0.0.1:6379/0", "keyFile": "\#(short)"}"#).contains("holds 4 bytes; at least 16"))
        // A forgotten @host: the password would read as a port.
        let keyFile = try DemoServerFixture.clusterKeyFile()
        for url in ["redis://default:Secret", "redis://:Secret", "redis://default:Secret/0", "rediss://default:Secret@host"] {
            let text = problems(#"{"redis": "\#(url)", "keyFile": "\#(keyFile)"}"#)
            #expect(text.contains("greylist.cluster.redis"), "\(url): \(text)")
            #expect(!text.contains("Secret"), "\(url): \(text)")
        }
    }

    @Test("server.trustedProxies and proxyHeaderTimeout: networks read, bad ones named")
    func trustedProxies() throws {
        let good = #"{"server": {"trustedProxies": ["10.0.0.0/8", "2001:db8::/64"], "proxyHeaderTimeout": "2s"}}"#
        let configuration = try DemoConfiguration(json: Data(good.utf8), file: "good.json")
        #expect(configuration.server.proxyProtocol.trustedProxies == [.cidr("10.0.0.0/8"), .cidr("2001:db8::/64")])
        #expect(configuration.server.proxyProtocol.headerTimeout == .seconds(2))
        #expect(DemoConfiguration().server.proxyProtocol.trustedProxies.isEmpty)
        let bad = #"{"server": {"trustedProxies": ["10.0.0.0/33", 7]}}"#
        do {
            _ = try DemoConfiguration(json: Data(bad.utf8), file: "bad.json")
            Issue.record("accepted bad proxies")
        } catch {
            #expect(error.description.contains("server.trustedProxies[0] = \"10.0.0.0/33\""), "\(error)")
            #expect(error.description.contains("server.trustedProxies[1] = 7"), "\(error)")
        }
    }

    @Test("reports every bad field of both sections, naming path and value")
    func reportsEverything() {
        let json = #"{"server": {"host": "example.org", "port": 70000, "users": {"a@b": "x"}, "domian": "x", "headerTimeout": "5y"}, "greylist": {"rules": [{"name": "r", "pattern": "("}]}, "extra": 1}"#
        do {
            _ = try DemoConfiguration(json: Data(json.utf8), file: "test.json")
            Issue.record("accepted a bad file")
        } catch {
            let text = error.description
            for expected in ["server.host = \"example.org\"", "server.port = 70000", "server.users.a@b", "server.domian = \"x\": unknown key",
                             "server.headerTimeout = \"5y\"", "greylist.rules[0].pattern = \"(\"", "extra = 1: unknown key"] {
                #expect(text.contains(expected), "missing \(expected) in \(text)")
            }
        }
    }

    @Test("parses server flags and admin subcommands", arguments: [
        ([], CommandLineOptions.serve(configurationPath: nil, host: nil, port: nil, verbose: false)),
        (["--config", "x.json", "--host", "::", "--port", "0"], .serve(configurationPath: "x.json", host: "::", port: 0, verbose: false)),
        (["--help"], .help),
        (["admin", "list", "--json"], .admin(GreylistAdminCommandLine.Invocation(request: GreylistAdminRequest(command: "list", limit: 1_000), socketPath: nil, json: true), configurationPath: nil)),
        (["admin", "list", "--limit", "5", "--network", "2001:db8::/32"],
         .admin(GreylistAdminCommandLine.Invocation(request: GreylistAdminRequest(command: "list", network: "2001:db8::/32", limit: 5), socketPath: nil, json: false), configurationPath: nil)),
        (["admin", "list", "--all"], .admin(GreylistAdminCommandLine.Invocation(request: GreylistAdminRequest(command: "list"), socketPath: nil, json: false), configurationPath: nil)),
        (["admin", "ban", "10.0.0.0/8", "--for", "2h", "--reason", "spam", "--socket", "/tmp/s"],
         .admin(GreylistAdminCommandLine.Invocation(request: GreylistAdminRequest(command: "ban", network: "10.0.0.0/8", duration: "2h", reason: "spam"), socketPath: "/tmp/s", json: false), configurationPath: nil)),
    ])
    func parsesArguments(arguments: [String], expected: CommandLineOptions) throws {
        #expect(try CommandLineOptions.parse(arguments) == expected)
    }

    @Test("refuses bad flags, naming them", arguments: [
        (["--port", "99999"], "\"99999\""), (["--port", "http"], "\"http\""), (["--prot", "1"], "\"--prot\""),
        (["--config"], "--config needs a value"), (["admin", "ban"], "needs a network"), (["admin", "frobnicate"], "admin needs one of"),
        (["admin", "list", "--limit", "0"], "--limit: \"0\""), (["admin", "stats", "--limit", "3"], "\"--limit\" for admin stats"),
    ])
    func refusesArguments(arguments: [String], fragment: String) {
        do {
            _ = try CommandLineOptions.parse(arguments)
            Issue.record("accepted \(arguments)")
        } catch {
            #expect(error.description.contains(fragment))
        }
    }
}

/// The kernel offload's settings and which bans it takes; the offload itself runs in
/// KernelOffloadTests, in a network namespace.
@Suite struct KernelOffloadSettingsTests {
    @Test("server.kernelOffload is read and checked field by field")
    func reading() throws {
        let good = try DemoConfiguration(json: Data(#"{"server": {"kernelOffload": {"enabled": true, "table": "xmpp_bans", "minimumBan": "30m", "repeatOffenders": 0, "action": "drop"}}}"#.utf8), file: "t")
        #expect(good.server.kernelOffload.enabled && good.server.kernelOffload.table == "xmpp_bans")
        #expect(good.server.kernelOffload.minimumBan == .seconds(1_800) && good.server.kernelOffload.action == .drop)
        #expect(DemoConfiguration().server.kernelOffload.enabled == false, "off by default")
        do {
            _ = try DemoConfiguration(json: Data(#"{"server": {"kernelOffload": {"table": "a b;", "action": "tarpit", "repeatOffenders": -1, "minimumBan": "0s", "enable": true}}}"#.utf8), file: "t")
            Issue.record("accepted bad kernelOffload values")
        } catch {
            for fragment in ["server.kernelOffload.table = \"a b;\"", "server.kernelOffload.action = \"tarpit\"", "server.kernelOffload.repeatOffenders = -1",
                             "server.kernelOffload.minimumBan", "server.kernelOffload.enable = true: unknown key"] {
                #expect(error.description.contains(fragment), "missing \(fragment) in \(error)")
            }
        }
    }

    @Test("bans that qualify: long enough or repeated; never soft, never over an allowlisted address, never about to end")
    func qualifying() {
        let settings = KernelOffloadSettings()
        let now = Date()
        let milliseconds = Int64(now.timeIntervalSince1970 * 1_000)
        func ban(_ network: String, hours: Double, count: Int = 1, soft: Bool = false) -> BanEntry {
            var entry = BanEntry(network: .cidr(network), reason: .rule("botnet"), bannedAt: now, expiresAt: now.addingTimeInterval(hours * 3_600), banCount: count)
            entry.isSoft = soft
            return entry
        }
        let allowlist = [IPNetwork.cidr("198.51.100.20/32")]
        #expect(settings.qualifies(ban("203.0.113.7/32", hours: 4), allowlist: allowlist, nowMilliseconds: milliseconds))
        #expect(!settings.qualifies(ban("203.0.113.7/32", hours: 0.5), allowlist: allowlist, nowMilliseconds: milliseconds))
        #expect(settings.qualifies(ban("203.0.113.7/32", hours: 0.5, count: 2), allowlist: allowlist, nowMilliseconds: milliseconds))
        #expect(!settings.qualifies(ban("203.0.113.7/32", hours: 4, soft: true), allowlist: allowlist, nowMilliseconds: milliseconds))
        #expect(!settings.qualifies(ban("198.51.100.0/24", hours: 4), allowlist: allowlist, nowMilliseconds: milliseconds))
        #expect(!settings.qualifies(ban("203.0.113.7/32", hours: 4), allowlist: allowlist, nowMilliseconds: milliseconds + 4 * 3_600_000 - 500))
    }

    @Test("a greylist section without a rules key takes the recommended rules; an explicit empty list stays empty and is said at start and in stats")
    func missingAndEmptyRules() async throws {
        let missing = try DemoConfiguration(json: Data(#"{"greylist": {"dryRun": false}}"#.utf8), file: "m.json")
        #expect(missing.greylist.rules.map(\.name) == DemoConfiguration.defaultGreylist.rules.map(\.name))
        #expect(!missing.greylist.rules.isEmpty)
        let empty = try DemoConfiguration(json: Data(#"{"greylist": {"rules": []}}"#.utf8), file: "e.json")
        #expect(empty.greylist.rules.isEmpty)

        let path = NSTemporaryDirectory() + "greylist-empty-rules-\(UUID().uuidString).json"
        try #"{"server": {"port": 0}, "greylist": {"stateDirectory": "", "rules": []}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let fixture = try DemoServerFixture(configurationPath: path, log: Log(minimum: .info, descriptor: pipeEnds[1]))
        let log = await Blocking.read(pipeEnds[0], until: "greylist: rules", within: 10)
        #expect(log.contains("WARN greylist.rules is an empty list"), "\(log)")
        #expect(log.contains("greylist: rules none;"))
        #expect(await fixture.server.greylist.statistics().rules == 0)
        await fixture.stop()
        close(pipeEnds[1])
        close(pipeEnds[0])
    }
}
