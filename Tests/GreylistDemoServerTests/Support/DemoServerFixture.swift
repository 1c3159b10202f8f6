import GreylistTestSupport
import Foundation
import Greylist
@testable import GreylistDemoServer

/// A demo server on an ephemeral loopback port with its own admin socket, stopped by `stop()`.
struct DemoServerFixture {
    let server: DemoServer
    let port: Int
    let adminSocket: String

    static let header = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

    init(configurationPath: String? = nil, log: Log = Log(minimum: .error), _ adjust: (inout DemoConfiguration) -> Void = { _ in }) throws {
        try self.init(configurationPath: configurationPath, log: log, eventTap: nil, store: nil, adjust: adjust)
    }

    /// A fixture whose greylist keeps its state in `store` (opened by the caller, who can wait
    /// for its lock without blocking a thread).
    init(store: any GreylistStore, _ adjust: (inout DemoConfiguration) -> Void = { _ in }) throws {
        try self.init(configurationPath: nil, log: Log(minimum: .error), eventTap: nil, store: store, adjust: adjust)
    }

    /// A fixture whose greylist events also go to `eventTap`.
    init(eventTap: @escaping @Sendable (GreylistEvent) -> Void) throws {
        try self.init(configurationPath: nil, log: Log(minimum: .error), eventTap: eventTap, store: nil, adjust: { _ in })
    }

    private init(configurationPath: String?, log: Log, eventTap: (@Sendable (GreylistEvent) -> Void)?, store: (any GreylistStore)?,
                 adjust: (inout DemoConfiguration) -> Void) throws {
        var configuration = DemoConfiguration()
        if let configurationPath { configuration = try DemoConfiguration(contentsOf: configurationPath) }
        configuration.server.port = 0
        configuration.server.adminSocket = "/tmp/greylist-test-\(UInt32.random(in: 0...UInt32.max)).sock"
        configuration.greylist.stateDirectory = nil
        adjust(&configuration)
        server = try DemoServer(configuration: configuration, configurationPath: configurationPath, log: log, store: store, eventTap: eventTap)
        port = try server.start()
        adminSocket = configuration.server.adminSocket ?? ""
    }

    func stop() async {
        await withCheckedContinuation { continuation in
            server.stop(grace: .seconds(2)) { continuation.resume() }
        }
    }

    func connect(from source: String = "127.0.0.1") throws -> TestSocket {
        try TestSocket(port: port, source: source, destination: source.contains(":") ? "::1" : "127.0.0.1")
    }

    /// Connects from `source`, opens the stream and reads its features: ready for `<auth>`.
    func openStream(from source: String = "127.0.0.1") async throws -> TestSocket {
        let client = try connect(from: source)
        client.send(Self.header)
        await client.read(until: "</stream:features>")
        return client
    }

    /// Whether a new connection from `source` is closed before the server sends a byte.
    func isRefused(from source: String) async throws -> Bool {
        try await Self.isRefused(port: port, from: source)
    }

    /// Whether a new connection from `source` to a server on `port` is closed before it sends a byte.
    static func isRefused(port: Int, from source: String) async throws -> Bool {
        let (text, closed) = try await TestSocket(port: port, source: source, destination: "127.0.0.1").readToEnd()
        return text.isEmpty && closed
    }

    /// Whether a server on `port` opens a stream for a new connection from `source`.
    static func isServed(port: Int, from source: String) async throws -> Bool {
        let client = try TestSocket(port: port, source: source, destination: "127.0.0.1")
        client.send(Self.header)
        return await client.read(until: "</stream:features>").contains("</stream:features>")
    }

    /// A failed login that the greylist answers with a ban: returns the server's answer, which
    /// arrives only once the ban is in place (the stream itself stays open: a ban is not told
    /// apart from a failure that did not ban).
    func banningLogin(_ user: String, from source: String) async throws -> String {
        try await Self.banningLogin(port: port, user, from: source)
    }

    /// ``banningLogin(_:from:)`` against a server on `port` (another process).
    static func banningLogin(port: Int, _ user: String, from source: String) async throws -> String {
        try await failedLogin(port: port, user, from: source)
    }

    /// Whether one failed login as `user` from `source` bans it: answered, then the very next
    /// connection from `source` is closed before the server sends a byte.
    func bans(_ user: String, from source: String) async throws -> Bool {
        let answer = try await banningLogin(user, from: source)
        guard answer.contains("<not-authorized/>") else { return false }
        return try await isRefused(from: source)
    }

    /// One failed login on a server on `port` that does not ban: returns the server's answer.
    static func failedLogin(port: Int, _ user: String, from source: String) async throws -> String {
        let client = try TestSocket(port: port, source: source, destination: "127.0.0.1")
        client.send(Self.header)
        await client.read(until: "</stream:features>")
        client.send(Self.plain(user, "wrong"))
        return await client.read(until: "</failure>")
    }

    /// A cluster key file every test node shares: the tests' key, mode 0600.
    static func clusterKeyFile() throws -> String {
        let path = NSTemporaryDirectory() + "greylist-test-cluster.key"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: Data("greylist-test-cluster-key-0123456789\n".utf8),
                                           attributes: [.posixPermissions: 0o600])
        }
        return path
    }

    static func plain(_ user: String, _ password: String) -> String {
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0\(user)\0\(password)".utf8).base64EncodedString())</auth>"
    }

    /// Logs in as `user` from `source` through resource binding; returns the bind answer.
    func login(_ user: String = "demo", _ password: String = "demo-password", from source: String = "127.0.0.1") async throws -> String {
        let client = try connect(from: source)
        client.send(Self.header)
        await client.read(until: "</stream:features>")
        client.send(Self.plain(user, password))
        let answer = await client.read(until: "/>")
        guard answer.contains("<success") else { return answer }
        client.send(Self.header)
        await client.read(until: "</stream:features>")
        client.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>test</resource></bind></iq>")
        let bound = await client.read(until: "</iq>")
        client.send("</stream:stream>")
        await client.read(until: "</stream:stream>")
        return bound
    }
}
