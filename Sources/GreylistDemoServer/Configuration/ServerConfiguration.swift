import Foundation
import Greylist

/// The `server` object of the demo's configuration file.
struct ServerConfiguration: Equatable, Sendable {
    /// The address to listen on: an IPv4 or IPv6 literal, `localhost`, or `::` for dual stack.
    var host = "127.0.0.1"
    /// The TCP port; 0 picks a free one (the tests use that).
    var port = 5222
    /// The XMPP domain served.
    var domain = "localhost"
    /// Accounts: username → password.
    var users: [String: String] = ["demo": "demo-password"]
    /// The admin command's Unix socket: `nil` (the default) puts it in the state directory, as
    /// `admin.sock`, where only this server's user can reach it; `""` disables it.
    var adminSocket: String? = nil
    /// Open client connections at most; past it new ones are closed at once.
    var maxConnections = 1_024
    /// Open client connections from one address (an IPv6 /64) at most.
    var maxConnectionsPerAddress = 64
    /// Connections from one address (an IPv6 /64) that have not logged in, at most: idle or
    /// slow streams from one source cannot take every slot.
    var maxUnauthenticatedPerAddress = 8
    /// The largest stanza (and the most unparsed input) one connection may hold.
    var maxStanzaBytes = 65_536
    /// The deepest element nesting accepted.
    var maxDepth = 16
    /// Time from accept to the stream header.
    var headerTimeout: Duration = .seconds(10)
    /// Time from accept to a successful login.
    var authTimeout: Duration = .seconds(30)
    /// Time without a byte from the client after which the stream is closed.
    var idleTimeout: Duration = .seconds(300)
    /// Failed logins allowed on one stream before it is closed.
    var maxAuthAttempts = 3
    /// How often refused connections are summarised in the log.
    var refusalSummaryInterval: Duration = .seconds(60)
    /// Bans also enforced by the kernel (nftables); off by default.
    var kernelOffload = KernelOffloadSettings()
    /// `adminWidestBan: {"ipv4": 16, "ipv6": 32}`: the widest networks `admin ban` takes
    /// without `--force` (a typo such as `0.0.0.0/0` would refuse everyone).
    var adminWidestBan = WidestBan()

    /// The widest prefix lengths `admin ban` takes without `--force`.
    struct WidestBan: Equatable, Sendable {
        var ipv4 = 16
        var ipv6 = 32
    }
    /// Load balancers that send HAProxy's PROXY header (`trustedProxies`), and how long one may
    /// take (`proxyHeaderTimeout`); none by default.
    var proxyProtocol = ProxyProtocolPolicy()

    /// Reads the section, reporting every bad field.
    init(reading value: JSONValue?, path: String, report: @escaping (ConfigurationIssue) -> Void) {
        var reader = ConfigurationReader(value, path: path, report: report)
        let defaults = ServerConfiguration()
        host = reader.string("host", default: defaults.host) ?? defaults.host
        if (try? ListenAddress(host: host, port: 0)) == nil {
            reader.report("host", reason: "expected an IP address, \"localhost\" or \"::\"")
            host = defaults.host
        }
        port = reader.integer("port", default: defaults.port, in: 0...65_535)
        domain = reader.string("domain", default: defaults.domain) ?? defaults.domain
        if domain.isEmpty || domain.contains(where: { $0.isWhitespace || "/@<>'\"&".contains($0) }) {
            reader.report("domain", reason: "expected a domain name such as \"localhost\"")
            domain = defaults.domain
        }
        switch reader.value("users") {
        case nil:
            break
        case .object(let object)?:
            var users: [String: String] = [:]
            for (name, password) in object {
                guard case .string(let text) = password, !name.isEmpty, !name.contains("@") else {
                    report(ConfigurationIssue(path: reader.path(of: "users.\(name)"), value: password.description,
                                              reason: "expected a non-empty username without '@' and a string password"))
                    continue
                }
                users[name] = text
            }
            self.users = users
        case _?:
            reader.report("users", reason: "expected an object of username → password")
        }
        adminSocket = reader.string("adminSocket", default: defaults.adminSocket)
        if let path = adminSocket, path.utf8.count > 100 {
            reader.report("adminSocket", reason: "a Unix socket path must be under 100 bytes")
            adminSocket = defaults.adminSocket
        }
        maxConnections = reader.integer("maxConnections", default: defaults.maxConnections, in: 1...1_000_000)
        maxConnectionsPerAddress = reader.integer("maxConnectionsPerAddress", default: defaults.maxConnectionsPerAddress, in: 1...1_000_000)
        maxUnauthenticatedPerAddress = reader.integer("maxUnauthenticatedPerAddress", default: defaults.maxUnauthenticatedPerAddress,
                                                      in: 1...1_000_000)
        maxStanzaBytes = reader.integer("maxStanzaBytes", default: defaults.maxStanzaBytes, in: 1_024...16_777_216)
        maxDepth = reader.integer("maxDepth", default: defaults.maxDepth, in: 2...256)
        headerTimeout = reader.duration("headerTimeout", default: defaults.headerTimeout)
        authTimeout = reader.duration("authTimeout", default: defaults.authTimeout)
        idleTimeout = reader.duration("idleTimeout", default: defaults.idleTimeout)
        maxAuthAttempts = reader.integer("maxAuthAttempts", default: defaults.maxAuthAttempts, in: 1...100)
        refusalSummaryInterval = reader.duration("refusalSummaryInterval", default: defaults.refusalSummaryInterval)
        kernelOffload = reader.object("kernelOffload") { KernelOffloadSettings(reading: &$0) }
        adminWidestBan = reader.object("adminWidestBan") { nested in
            WidestBan(ipv4: nested.integer("ipv4", default: defaults.adminWidestBan.ipv4, in: 0...32),
                      ipv6: nested.integer("ipv6", default: defaults.adminWidestBan.ipv6, in: 0...128))
        }
        proxyProtocol = ProxyProtocolPolicy(trustedProxies: reader.networks("trustedProxies", default: []),
                                            headerTimeout: reader.duration("proxyHeaderTimeout", default: defaults.proxyProtocol.headerTimeout))
        reader.finish()
    }

    /// The built-in defaults.
    init() {}
}

/// The whole demo configuration file: `server` and `greylist` objects.
struct DemoConfiguration: Equatable, Sendable {
    var server = ServerConfiguration()
    var greylist = DemoConfiguration.defaultGreylist
    /// `greylist.cluster`: bans shared through Redis; `nil` for a single node.
    var cluster: ClusterSettings?

    /// Where the admin socket is, or `nil` when there is none: `server.adminSocket` when set,
    /// else `admin.sock` in the state directory (none without a state directory).
    var adminSocketPath: String? {
        if let path = server.adminSocket { return path.isEmpty ? nil : path }
        guard let directory = greylist.stateDirectory, !directory.isEmpty else { return nil }
        return directory + "/admin.sock"
    }

    /// The recommended configuration (README, "Choosing rules"): the seed's `botnet` rule (a failed
    /// login whose username matches `^bad_user_[0-9]{5,}$` bans for four hours), `unknown-accounts`
    /// and `guessing`, with the library's defaults for trust, knocking, spraying and ranges; bans
    /// survive restarts in `greylist-state`.
    static let defaultGreylist = GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(botnetPattern: "^bad_user_[0-9]{5,}$"),
                                                       stateDirectory: defaultStateDirectory)

    /// The demo keeps its state here unless `greylist.stateDirectory` says otherwise (`""`: memory only).
    static let defaultStateDirectory = "greylist-state"


    init() {}

    /// Reads a configuration file.
    ///
    /// - Throws: ``DemoConfigurationError`` naming the file and listing every bad field.
    init(contentsOf path: String) throws(DemoConfigurationError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DemoConfigurationError(file: path, issues: [ConfigurationIssue(path: path, value: "", reason: "cannot read: \(error.localizedDescription)")])
        }
        try self.init(json: data, file: path)
    }

    init(json data: Data, file: String) throws(DemoConfigurationError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw DemoConfigurationError(file: file, issues: [ConfigurationIssue(path: file, value: "", reason: "not valid JSON: \(error)")])
        }
        var issues: [ConfigurationIssue] = []
        let report: (ConfigurationIssue) -> Void = { issues.append($0) }
        var reader = ConfigurationReader(value, path: "", report: report)
        server = ServerConfiguration(reading: reader.value("server"), path: "server", report: report)
        var section = reader.value("greylist")
        if case .object(var keys)? = section, let clusterValue = keys.removeValue(forKey: "cluster") {
            // The library does not know the cluster: the demo reads it and hands the rest on.
            section = .object(keys)
            var clusterReader = ConfigurationReader(clusterValue, path: "greylist.cluster", report: report)
            cluster = ClusterSettings(reading: &clusterReader)
            clusterReader.finish()
        }
        greylist = section == nil ? Self.defaultGreylist : GreylistConfiguration(reading: section, path: "greylist", report: report)
        if case .object(let keys)? = section, keys["stateDirectory"] == nil {
            greylist.stateDirectory = Self.defaultStateDirectory
        }
        // A missing key takes its default, and the demo's default rules are the recommended ones
        // (the library's `GreylistConfiguration()` has none); `"rules": []` stays empty.
        if case .object(let keys)? = section, keys["rules"] == nil {
            greylist.rules = Self.defaultGreylist.rules
        }
        reader.finish()
        guard issues.isEmpty else { throw DemoConfigurationError(file: file, issues: issues) }
    }
}

/// A configuration file that cannot be used, with every reason.
struct DemoConfigurationError: Error, CustomStringConvertible {
    var file: String
    var issues: [ConfigurationIssue]

    var description: String {
        "invalid configuration file \(file) (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n"
            + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}
