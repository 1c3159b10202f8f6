import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Greylist
import GreylistSystem

/// Serves a greylist's operator verbs on a Unix socket (mode 0600; only the server's own user or
/// root is served): one JSON ``GreylistAdminRequest`` line in, one ``GreylistAdminResponse``
/// out, then close. Any host can expose it; ``GreylistAdminClient`` and the `greylist-admin`
/// command talk to it.
///
/// ```swift
/// let admin = GreylistAdminServer(path: "/var/lib/myserver/admin.sock", greylist: greylist)
/// try admin.start()
/// // at shutdown:
/// await admin.stop()
/// ```
///
/// Each client is served with blocking I/O under 5-second timeouts on a Dispatch queue of its
/// own, never on the Swift concurrency pool; out of descriptors, accepting pauses for 100 ms
/// instead of spinning.
///
/// `@unchecked Sendable`: `source` and `paused` are touched only on `queue`; Dispatch sources
/// are not `Sendable`, so the compiler cannot check it.
public final class GreylistAdminServer: @unchecked Sendable {
    /// What a host adds to the verbs: limits, counters of its own, and where lines go.
    public struct Options: Sendable {
        /// The widest IPv4 network `ban` takes without `force`.
        public var widestIPv4Ban: Int
        /// The widest IPv6 network `ban` takes without `force`.
        public var widestIPv6Ban: Int
        /// Counters of the host's own, added to `stats` (the greylist's win on a name clash).
        public var extraStatistics: @Sendable () -> [String: Int]
        /// A shared store's state for `stats` (a cluster's link), or `nil`.
        public var sharedStoreStatus: @Sendable () -> String?
        /// Receives one line per operator action and per refused or failed client, for the host's
        /// log (the library never prints).
        public var log: @Sendable (String) -> Void

        /// Creates options.
        ///
        /// - Parameters:
        ///   - widestIPv4Ban: The widest IPv4 prefix `ban` takes without `force`; default /16.
        ///   - widestIPv6Ban: The widest IPv6 prefix; default /32.
        ///   - extraStatistics: The host's counters for `stats`; default none.
        ///   - sharedStoreStatus: A shared store's state for `stats`; default none.
        ///   - log: Where operator lines go; default nowhere.
        public init(widestIPv4Ban: Int = 16, widestIPv6Ban: Int = 32, extraStatistics: @escaping @Sendable () -> [String: Int] = { [:] },
                    sharedStoreStatus: @escaping @Sendable () -> String? = { nil }, log: @escaping @Sendable (String) -> Void = { _ in }) {
            self.widestIPv4Ban = widestIPv4Ban
            self.widestIPv6Ban = widestIPv6Ban
            self.extraStatistics = extraStatistics
            self.sharedStoreStatus = sharedStoreStatus
            self.log = log
        }
    }

    /// The socket's path.
    public let path: String
    private let greylist: Greylist
    private let options: Options
    private let queue = DispatchQueue(label: "greylist.admin")
    private var source: DispatchSourceRead?
    /// Whether `source` is suspended after running out of descriptors.
    private var paused = false
    private let ended = Completion()

    /// Creates a server; nothing is bound until ``start()``.
    ///
    /// - Parameters:
    ///   - path: The socket's path (at most 107 bytes).
    ///   - greylist: The greylist whose verbs it serves.
    ///   - options: Limits, extra counters, and the log.
    public init(path: String, greylist: Greylist, options: Options = Options()) {
        self.path = path
        self.greylist = greylist
        self.options = options
    }

    /// Creates a server on `admin.sock` in the greylist's state directory, where
    /// `greylist-admin --state DIR` looks for it.
    ///
    /// - Parameters:
    ///   - stateDirectory: The state directory (`GreylistConfiguration.stateDirectory`).
    ///   - greylist: The greylist whose verbs it serves.
    ///   - options: Limits, extra counters, and the log.
    public convenience init(stateDirectory: String, greylist: Greylist, options: Options = Options()) {
        self.init(path: Self.socketPath(inStateDirectory: stateDirectory), greylist: greylist, options: options)
    }

    /// The admin socket's path in a state directory: `DIR/admin.sock`.
    ///
    /// - Parameter stateDirectory: The state directory.
    /// - Returns: The socket's path.
    public static func socketPath(inStateDirectory stateDirectory: String) -> String {
        stateDirectory.hasSuffix("/") ? stateDirectory + "admin.sock" : stateDirectory + "/admin.sock"
    }

    /// Binds the socket (mode 0600), replacing a stale one left by a crash, and starts serving.
    ///
    /// - Throws: ``GreylistAdminError`` naming the path and the failed call.
    public func start() throws(GreylistAdminError) {
        do {
            try bind()
        } catch {
            throw GreylistAdminError(code: .socket, description: error.description)
        }
    }

    private func bind() throws(SystemError) {
        let descriptor = try Syscalls.socket(family: Syscalls.unixFamily, type: Syscalls.streamSocket)
        do {
            var address = try Self.address(path)
            Syscalls.unlink(path)
            try withUnsafeBytes(of: &address) { (bytes) throws(SystemError) in
                try Syscalls.bind(descriptor, bytes.baseAddress!, length: bytes.count, subject: path)
            }
            Syscalls.setMode(path, 0o600)
            try Syscalls.listen(descriptor, backlog: 16)
            try Syscalls.setNonBlocking(descriptor)
        } catch {
            Syscalls.close(descriptor)
            throw error
        }
        queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in acceptClients(descriptor) }
            source.setCancelHandler { [path, ended] in
                Syscalls.close(descriptor)
                Syscalls.unlink(path)
                ended.signal()
            }
            self.source = source
            source.resume()
        }
    }

    /// Stops accepting clients and returns once the socket is closed and its file removed.
    public func stop() async {
        let running = queue.sync { () -> Bool in
            guard let source else { return false }
            if paused {
                paused = false
                source.resume()  // a suspended source would never run its cancel handler
            }
            source.cancel()
            self.source = nil
            return true
        }
        if running { await ended.wait() }
    }

    /// The `sockaddr_un` of `path`.
    package static func address(_ path: String) throws(SystemError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("socket path", path, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return address
    }

    /// Whether a peer with user id `peer` may use the admin socket of a server running as
    /// `server`: the same user, or root.
    package static func isAllowed(peer: UInt32, server: UInt32) -> Bool {
        peer == server || peer == 0
    }

    private func acceptClients(_ listener: Int32) {
        while true {
            var storage = sockaddr_storage()
            let client = Syscalls.accept(listener, into: &storage)
            guard client >= 0 else {
                let code = Syscalls.errorNumber
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM, let source {
                    // Out of descriptors: the listener stays readable, so waiting for the next
                    // event would spin. Stop watching it for 100 ms.
                    options.log("\(SystemError("admin accept", path, code: code)); pausing admin accepts for 100 ms")
                    source.suspend()
                    paused = true
                    queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [weak self] in
                        guard let self, paused, let source = self.source else { return }
                        paused = false
                        source.resume()
                    }
                }
                return
            }
            guard let peer = Syscalls.peerUser(client), Self.isAllowed(peer: peer, server: Syscalls.effectiveUser) else {
                options.log("admin: refused a client of uid \(Syscalls.peerUser(client).map(String.init) ?? "unknown") on \(path)")
                Syscalls.close(client)
                continue
            }
            // Admin clients are rare and local: serve each with blocking I/O (5 s timeouts) on a
            // queue of its own (an overcommit thread), never on the Swift concurrency pool or
            // the width-limited global queue that the server's connections share.
            DispatchQueue(label: "greylist.admin.client").async { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        try? Syscalls.setBlocking(client, true)
        Syscalls.setTimeouts(client, seconds: 5)
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !request.contains(UInt8(ascii: "\n")) && request.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { Syscalls.read(client, into: $0) }
            guard count > 0 else { break }
            request += chunk[..<count]
        }
        let line = request.prefix { $0 != UInt8(ascii: "\n") }
        Task { [self] in
            let response = await handle(Data(line))
            DispatchQueue(label: "greylist.admin.reply").async {
                var bytes = (try? JSONEncoder().encode(response)) ?? Data("{\"ok\":false}".utf8)
                bytes.append(UInt8(ascii: "\n"))
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { Syscalls.write(client, $0) }
                    guard written > 0 else { break }
                    offset += written
                }
                Syscalls.close(client)
            }
        }
    }

    /// Runs one request line against the greylist.
    ///
    /// - Parameter line: A JSON ``GreylistAdminRequest``.
    /// - Returns: The response the client gets.
    public func handle(_ line: Data) async -> GreylistAdminResponse {
        guard let request = try? JSONDecoder().decode(GreylistAdminRequest.self, from: line) else {
            return GreylistAdminResponse(ok: false, error: "not a JSON admin request")
        }
        switch request.command {
        case "list":
            var network: IPNetwork?
            do {
                network = try request.network.map { text throws(GreylistError) in try IPNetwork(text) }
            } catch {
                return GreylistAdminResponse(ok: false, error: "\(error)")
            }
            if let limit = request.limit, limit < 1 {
                return GreylistAdminResponse(ok: false, error: "limit \(limit) is not a positive number")
            }
            let bans = await greylist.list(limit: request.limit, overlapping: network)
            let total = request.limit == nil || bans.count < request.limit! ? bans.count : await greylist.countBans(overlapping: network)
            return GreylistAdminResponse(ok: true, bans: bans.map(GreylistAdminResponse.Ban.init), total: total)
        case "export":
            let snapshot = await greylist.export()
            return GreylistAdminResponse(ok: true, bans: snapshot.bans.map(GreylistAdminResponse.Ban.init), histories: snapshot.histories.map(GreylistAdminResponse.History.init))
        case "stats":
            var response = GreylistAdminResponse(ok: true)
            response.statistics = await greylist.statistics().dictionary.merging(options.extraStatistics()) { first, _ in first }
            response.cluster = options.sharedStoreStatus()
            return response
        case "ban", "unban":
            guard let text = request.network else {
                return GreylistAdminResponse(ok: false, error: "\(request.command) needs a network")
            }
            do {
                let network = try IPNetwork(text)
                if request.command == "unban" {
                    let lifted = await greylist.unban(network)
                    options.log("admin: unban \(network) lifted \(lifted.count) ban(s)")
                    return GreylistAdminResponse(ok: true, bans: lifted.map(GreylistAdminResponse.Ban.init))
                }
                let widest = network.address.isIPv4 ? options.widestIPv4Ban : options.widestIPv6Ban
                guard network.prefixLength >= widest || request.force == true else {
                    return GreylistAdminResponse(ok: false, error: "\(network) is wider than /\(widest) (the widest ban taken without force): "
                        + "it would refuse \(network.prefixLength == 0 ? "every client of that family" : "a whole provider's clients"); add --force to ban it anyway")
                }
                let duration = try Self.duration(request.duration ?? "1h")
                let entry = try await greylist.ban(network, for: duration, reason: request.reason ?? "admin")
                return GreylistAdminResponse(ok: true, bans: [GreylistAdminResponse.Ban(entry)])
            } catch {
                return GreylistAdminResponse(ok: false, error: "\(error)")
            }
        case "trusted", "distrust":
            var network: IPNetwork?
            do {
                network = try request.network.map { text throws(GreylistError) in try IPNetwork(text) }
            } catch {
                return GreylistAdminResponse(ok: false, error: "\(error)")
            }
            guard request.command == "trusted" else {
                guard let network else { return GreylistAdminResponse(ok: false, error: "distrust needs a network") }
                let revoked = await greylist.revokeTrust(network)
                options.log("admin: distrust \(network) took trust from \(revoked.count) key(s)")
                return GreylistAdminResponse(ok: true, trusted: revoked.map(GreylistAdminResponse.Trust.init))
            }
            var response = await softTrustResponse()
            response.trusted = await greylist.trusted(inside: network).map(GreylistAdminResponse.Trust.init)
            return response
        case "soft-trust", "soft-untrust":
            guard let text = request.network else {
                return GreylistAdminResponse(ok: false, error: "\(request.command) needs a network")
            }
            do {
                let network = try IPNetwork(text)
                let changed = request.command == "soft-trust" ? try await greylist.addSoftTrust(network) : await greylist.removeSoftTrust(network)
                options.log("admin: \(request.command) \(network)\(changed ? "" : " (no change)")")
                var response = await softTrustResponse()
                response.changed = changed
                return response
            } catch {
                return GreylistAdminResponse(ok: false, error: "\(error)")
            }
        default:
            return GreylistAdminResponse(ok: false, error: "unknown command \"\(request.command)\" (use list, trusted, stats, export, ban, unban, distrust, soft-trust or soft-untrust)")
        }
    }

    /// The soft-trust lists: the configuration's, and those added with `soft-trust`.
    private func softTrustResponse() async -> GreylistAdminResponse {
        let added = await greylist.addedSoftTrustNetworks
        let all = await greylist.softTrustNetworks
        return GreylistAdminResponse(ok: true, softTrust: all.filter { !added.contains($0) }.map(\.description),
                             softTrustAdded: added.map(\.description))
    }

    /// Parses a duration the way the configuration file does.
    package static func duration(_ text: String) throws(GreylistError) -> Duration {
        var issues: [ConfigurationIssue] = []
        var reader = ConfigurationReader(.object(["duration": .string(text)]), path: "", report: { issues.append($0) })
        let duration = reader.duration("duration", default: .zero)
        reader.finish()
        guard issues.isEmpty else { throw .invalidDuration(text, reason: issues[0].reason) }
        return duration
    }
}
