import GreylistAdmin
import GreylistSystem
import Dispatch
import Foundation
import Greylist
import GreylistRedis
import GreylistXMPP

/// The demo's composition root: it builds the greylist, the connection registry and the
/// long-running services (accept loop, admin server, purge loop), starts them in order, reloads
/// the configuration, and stops them in reverse.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue`.
final class DemoServer: @unchecked Sendable {
    let greylist: Greylist
    let log: Log
    private let queue = DispatchQueue(label: "greylist.demo.server")
    private let configurationPath: String?
    private var configuration: DemoConfiguration
    private let registry: ConnectionRegistry
    /// PROXY headers taken and refused (`admin stats`).
    let proxyCounters: ProxyCounters
    /// The Redis store when this node is part of a cluster (`greylist.cluster`).
    let cluster: RedisStore?
    private var services: [any ServerService] = []
    private var summary: RefusalSummary?
    private var stopping = false
    /// The log budget for failed-login lines; what it suppresses goes into the summary.
    private let failedLoginLines: LineBudget
    /// The kernel offload, once started (events reach it from any thread).
    private let offload: LockedValue<KernelOffload?>

    /// The port the listener is bound to, known after ``start()``.
    private(set) var port = 0

    /// Builds the server; nothing listens before ``start()``.
    ///
    /// - Parameters:
    ///   - store: The state store, when the caller opened it (``openStore(_:)``); `nil` lets the
    ///     greylist open `stateDirectory` itself, without waiting for its lock.
    ///   - eventTap: Sees every greylist event before it is logged (the tests use it).
    init(configuration: DemoConfiguration, configurationPath: String?, log: Log, store: (any GreylistStore)? = nil,
         eventTap: (@Sendable (GreylistEvent) -> Void)? = nil) throws(GreylistError) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.log = log
        self.proxyCounters = ProxyCounters(log: log)
        let failedLogins = LineBudget()
        self.failedLoginLines = failedLogins
        let logSink = EventLogPolicy.sink(log, failedLogins: failedLogins)
        let offload = LockedValue<KernelOffload?>(nil)
        self.offload = offload
        let sink: @Sendable (GreylistEvent) -> Void = { event in
            logSink(event)
            // Only ban changes reach the offload: refusals (the accept path) take no extra lock.
            switch event {
            case .banned, .unbanned, .banEvicted, .expired: offload.withLock { $0 }?.receive(event)
            default: break
            }
        }
        let events: @Sendable (GreylistEvent) -> Void
        if let eventTap {
            events = { event in
                eventTap(event)
                sink(event)
            }
        } else {
            events = sink
        }
        let greylist = try Greylist(configuration: configuration.greylist, events: events, store: store)
        self.greylist = greylist
        self.registry = ConnectionRegistry(policy: Self.policy(configuration.server), greylist: greylist)
        self.cluster = store as? RedisStore
    }

    /// Binds, then starts purging, serving admin requests and accepting; returns the bound port.
    ///
    /// - Throws: ``SystemError`` naming the address that could not be bound.
    @discardableResult
    func start() throws -> Int {
        let server = configuration.server
        // Each connection holds a descriptor; the listener, the admin socket, the journal and
        // Dispatch need some more. Promise no more connections than the process can open.
        if let problem = Self.descriptorProblem(maxConnections: server.maxConnections, available: Syscalls.raiseDescriptorLimit()) {
            throw StartError(reason: problem)
        }
        let address = try ListenAddress(host: server.host, port: server.port)
        let descriptor = try address.listen()
        let boundPort: Int
        do {
            boundPort = try Syscalls.localPort(descriptor)
        } catch {
            Syscalls.close(descriptor)
            throw error
        }
        let proxyCounters = self.proxyCounters
        // With load balancers configured, no one else may send a PROXY header (nor a client a second one).
        var screening: (@Sendable (IPAddress) -> Void)?
        if !server.proxyProtocol.trustedProxies.isEmpty {
            screening = { @Sendable peer in proxyCounters.noteRefused(.untrustedPeer(peer)) }
        }
        let refuseHeaders = screening
        let acceptLoop = AcceptLoop(descriptor: descriptor, greylist: greylist, log: log, proxyProtocol: server.proxyProtocol,
                                    proxyCounters: proxyCounters, maxPendingHeaders: server.maxConnections) { [registry] descriptor, client in
            registry.admit(descriptor, client, onProxyHeader: refuseHeaders) == nil
        }
        var services: [any ServerService] = [PurgeLoop(greylist: greylist)]
        if server.kernelOffload.enabled {
            let kernel = KernelOffload(settings: server.kernelOffload, port: boundPort, greylist: greylist,
                                       exempt: configuration.greylist.allowlist + server.proxyProtocol.trustedProxies, dryRun: configuration.greylist.dryRun, log: log)
            offload.withLock { $0 = kernel }
            services.append(kernel)
        }
        if let path = configuration.adminSocketPath {
            let options = GreylistAdminServer.Options(
                widestIPv4Ban: server.adminWidestBan.ipv4, widestIPv6Ban: server.adminWidestBan.ipv6,
                extraStatistics: { [proxyCounters] in proxyCounters.statistics },
                sharedStoreStatus: { [cluster] in cluster?.status.description },
                log: { [log] line in log.info(line) })
            services.append(AdminService(GreylistAdminServer(path: path, greylist: greylist, options: options)))
        }
        services.append(acceptLoop)
        var started: [any ServerService] = []
        do {
            for service in services {
                try service.start()
                started.append(service)
            }
        } catch {
            let toStop = started
            Task { for service in toStop.reversed() { await service.stop() } }
            if started.count < services.count - 1 { Syscalls.close(descriptor) }
            throw error
        }
        let summary = RefusalSummary(greylist: greylist, log: log, overCapacity: { acceptLoop.takeOverCapacity() },
                                     openConnections: { [registry] in registry.count },
                                     suppressedLines: { [failedLoginLines] in failedLoginLines.takeSuppressed() })
        summary.schedule(every: server.refusalSummaryInterval)
        queue.sync {
            port = boundPort
            self.services = services
            self.summary = summary
        }
        logSettings(listening: (try? ListenAddress(host: server.host, port: boundPort))?.description ?? "port \(boundPort)")
        return boundPort
    }

    /// Descriptors kept back from `maxConnections` for everything else the server opens.
    static let reservedDescriptors = 64

    /// Why `maxConnections` cannot be promised with `available` descriptors, or `nil` when it can.
    static func descriptorProblem(maxConnections: Int, available: Int) -> String? {
        let needed = maxConnections + reservedDescriptors
        guard needed > available else { return nil }
        return "server.maxConnections \(maxConnections) needs about \(needed) open descriptors, "
            + "but this process may open \(available) (raise the limit, ulimit -n, or lower maxConnections)"
    }

    /// Why the server did not start, in an operator's words.
    struct StartError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// Opens the configured state directory, waiting up to two seconds for a previous owner
    /// (a server still exiting after a restart) to let go of its lock, and with
    /// `greylist.cluster` the Redis store over it (its link connects in the background: the
    /// server starts whether Redis is there or not). It blocks the calling thread: `main` calls
    /// it before any other thread exists, never from async code.
    static func openStore(_ configuration: DemoConfiguration) throws(GreylistError) -> (any GreylistStore)? {
        let journal = try openJournal(configuration.greylist)
        guard let cluster = configuration.cluster else { return journal }
        let settings: RedisStoreSettings
        let key: ClusterKey
        do {
            settings = try cluster.storeSettings(for: configuration.greylist)
            key = try cluster.key ?? ClusterKey(contentsOfFile: cluster.keyFile)
        } catch {
            throw .invalidConfiguration([ConfigurationIssue(path: "greylist.cluster", value: "", reason: "\(error)")])
        }
        return RedisStore(settings: settings, key: key, localJournal: journal, nodeID: cluster.node)
    }

    /// Opens the state directory's journal, waiting up to 2 s for a predecessor to let go of it.
    private static func openJournal(_ configuration: GreylistConfiguration) throws(GreylistError) -> JournalStore? {
        guard let directory = configuration.stateDirectory, !directory.isEmpty else { return nil }
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            do {
                return try JournalStore(directory: directory, synchronous: configuration.stateSync)
            } catch {
                guard error.code == .stateDirectoryInUse, ContinuousClock.now < deadline else {
                    throw error
                }
            }
            Syscalls.pause(milliseconds: 20)
        }
    }

    private static func policy(_ server: ServerConfiguration) -> ConnectionRegistry.Policy {
        ConnectionRegistry.Policy(
            maxConnections: server.maxConnections,
            maxConnectionsPerAddress: server.maxConnectionsPerAddress,
            maxUnauthenticatedPerAddress: server.maxUnauthenticatedPerAddress,
            settings: XMPPSessionSettings(domain: server.domain, maxStanzaBytes: server.maxStanzaBytes, maxDepth: server.maxDepth,
                                          maxAuthAttempts: server.maxAuthAttempts, headerTimeout: server.headerTimeout,
                                          authTimeout: server.authTimeout, idleTimeout: server.idleTimeout),
            accounts: Accounts(server.users),
            maxOutboxBytes: max(server.maxStanzaBytes * 4, 262_144)
        )
    }

    private func logSettings(listening: String) {
        let server = configuration.server
        let greylist = configuration.greylist
        log.info("listening on \(listening) for domain \(server.domain) with \(server.users.count) account(s); "
            + "max \(server.maxConnections) connections, stanzas up to \(server.maxStanzaBytes) bytes")
        let rules = greylist.rules.map(\.summary)
        let allowlist = greylist.allowlist.isEmpty ? "none" : greylist.allowlist.map(\.description).joined(separator: ", ")
        if greylist.rules.isEmpty {
            log.warning("greylist.rules is an empty list: no failed login bans anyone (remove the key for the recommended rules)")
        }
        let softTrust = greylist.softTrust.isEmpty ? "none" : greylist.softTrust.map(\.description).joined(separator: ", ")
        log.info("greylist: rules \(rules.isEmpty ? "none" : rules.joined(separator: "; ")); allowlist \(allowlist); soft trust \(softTrust); dry run \(greylist.dryRun)"
            + "; admin socket \(configuration.adminSocketPath.map(GreylistAdminClient.absolute) ?? "off (no state directory and no server.adminSocket)")")
        if let directory = greylist.stateDirectory, !directory.isEmpty {
            log.info("state directory \(GreylistAdminClient.absolute(directory)): loaded \(self.greylist.restored)")
        } else if cluster == nil {
            log.info("no state directory: bans live in memory only and end with the process")
        }
        if let cluster {
            log.info("cluster: bans shared through \(cluster.settings.displayed), namespace \(cluster.settings.namespace), node \(cluster.nodeID)"
                + (cluster.localJournal == nil ? "; no state directory: the shared state is the only copy" : "; the state directory stays the acknowledgement"))
        }
    }

    // MARK: - Reload and shutdown

    /// Re-reads the configuration file: rules, allowlist, limits and accounts change; bans and
    /// counters stay. An invalid file is rejected and the running configuration kept.
    ///
    /// - Parameter completion: Called with whether the new configuration took effect.
    func reload(completion: @escaping @Sendable (Bool) -> Void = { _ in }) {
        queue.async { [self] in
            guard let configurationPath else {
                log.warning("reload: started without --config, nothing to reload")
                completion(false)
                return
            }
            let fresh: DemoConfiguration
            do {
                fresh = try DemoConfiguration(contentsOf: configurationPath)
            } catch {
                log.block(.error, "reload rejected, keeping the running configuration: \(error)")
                completion(false)
                return
            }
            Task { [self] in
                do {
                    try await greylist.apply(fresh.greylist)
                } catch {
                    log.block(.error, "reload rejected, keeping the running configuration: \(error)")
                    completion(false)
                    return
                }
                queue.async { [self] in
                    let old = configuration.server
                    configuration.greylist = fresh.greylist
                    configuration.server = fresh.server
                    if fresh.server.host != old.host || fresh.server.port != old.port || fresh.server.adminSocket != old.adminSocket {
                        configuration.server.host = old.host
                        configuration.server.port = old.port
                        configuration.server.adminSocket = old.adminSocket
                        log.warning("reload: host, port and adminSocket changes take effect on restart")
                    }
                    registry.update(Self.policy(configuration.server))
                    offload.withLock { $0 }?.reconfigure(exempt: fresh.greylist.allowlist + fresh.server.proxyProtocol.trustedProxies, dryRun: fresh.greylist.dryRun)
                    if fresh.server.kernelOffload != old.kernelOffload {
                        log.warning("reload: kernelOffload changes take effect on restart")
                    }
                    if fresh.server.proxyProtocol != old.proxyProtocol {
                        configuration.server.proxyProtocol = old.proxyProtocol
                        log.warning("reload: trustedProxies and proxyHeaderTimeout changes take effect on restart")
                    }
                    if fresh.cluster != configuration.cluster {
                        log.warning("reload: greylist.cluster changes take effect on restart")
                    }
                    summary?.schedule(every: fresh.server.refusalSummaryInterval)
                    log.info("reload applied from \(configurationPath); bans and counters kept")
                    completion(true)
                }
            }
        }
    }

    /// Stops the services in reverse order (accepting first), ends every stream with
    /// `system-shutdown`, waits for them to close (at most `grace`), stores what is pending, and
    /// calls `completion`.
    func stop(grace: Duration = .seconds(3), completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            guard !stopping else { return }
            stopping = true
            let services = services
            summary?.cancel()
            Task { [self] in
                for service in services.reversed() { await service.stop() }
                let open = registry.closeAdmission()
                log.info("shutting down: closing \(open.count) stream(s)")
                for connection in open { connection.shutDown() }
                await waitForConnections(until: .now + grace)
                await greylist.closeStore()
                log.info("stopped")
                completion()
            }
        }
    }

    /// Polls the registry until it is empty or `deadline` passes (a shutdown happens once).
    private func waitForConnections(until deadline: ContinuousClock.Instant) async {
        while registry.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM and SIGINT stop the server (then `onStopped`); SIGHUP reloads.
    func handle(signal signalNumber: Int32, onStopped: @escaping @Sendable () -> Void) {
        if signalNumber == SIGHUP {
            log.info("SIGHUP: reloading")
            reload()
        } else {
            stop(completion: onStopped)
        }
    }

    /// Open and not-yet-authenticated connections from `peer`'s address (for tests).
    func connectionCounts(from peer: IPAddress) -> (open: Int, unauthenticated: Int) {
        registry.counts(from: peer)
    }

    /// The descriptors of the open connections from `peer`'s address (for tests).
    func connectionDescriptors(from peer: IPAddress) -> [Int32] {
        registry.connections(from: peer).map(\.descriptor)
    }

    /// The open connections from `peer`'s address (for tests).
    func connections(from peer: IPAddress) -> [ClientConnection] {
        registry.connections(from: peer)
    }

    /// Open client connections now (for tests and summaries).
    var openConnections: Int {
        registry.count
    }
}

