import Dispatch
import Foundation
import Greylist

/// Puts qualifying bans into an nftables set, so the kernel refuses those sources' new
/// connections and the server never accepts them (Linux, `CAP_NET_ADMIN`, the `nft` tool).
///
/// The greylist stays the source of truth: the offload follows its events (a ban placed, lifted
/// or evicted), the kernel lets an element go when its timeout (the ban's remaining length)
/// ends, start-up rebuilds the set from the state, and a reload re-applies the allowlist.
/// Changes are gathered for `batchInterval` into one `nft -f -` transaction, run on a queue of
/// the offload's own (`nft` is a child process waited for; never the Swift pool or a shared
/// queue). When offload is unavailable (no `nft`, no permission), one warning says so and
/// refusing carries on in user space. A clean stop deletes the table.
///
/// Bans covering the allowlist or a trusted proxy never reach the kernel (a proxy's address
/// banned there would reset every client behind it). An element's timeout is at most what `nft`
/// accepts (``NFTablesScript/maximumTimeoutSeconds``); a longer ban's element is refreshed daily
/// once it has less than a day left. A failed batch rebuilds the table once; if the rebuilt table
/// fails too, the offload stops with one warning rather than retry in a loop.
///
/// A ban the kernel enforces is not seen knocking, so knocking does not extend it: it ends when
/// its timeout does, in the kernel and in the greylist alike.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue`.
final class KernelOffload: ServerService, @unchecked Sendable {
    let name = "kernel offload"
    private let settings: KernelOffloadSettings
    private let script: NFTablesScript
    private let greylist: Greylist
    private let log: Log
    private let queue = DispatchQueue(label: "greylist.demo.offload")
    /// The allowlist and the trusted proxies: no ban covering one of them reaches the kernel.
    private var exempt: [IPNetwork]
    private var dryRun: Bool
    /// What the kernel holds, by key: its element's expiry in milliseconds (the ban's expiry,
    /// or sooner for a ban longer than an element may last).
    private var offloaded: [IPNetwork: Int64] = [:]
    /// Set while a failed batch's rebuild is in flight: a second failure stops the offload.
    private var rebuilding = false
    private var refreshTimer: DispatchSourceTimer?
    private var sets: Set<String> = []
    private var pending = ""
    private var pendingChanges = (added: 0, removed: 0)
    private var timer: DispatchSourceTimer?
    private var state = State.idle

    private enum State {
        case idle, running, unavailable, stopped
    }

    /// - Parameter exempt: The allowlist and the trusted proxies.
    init(settings: KernelOffloadSettings, port: Int, greylist: Greylist, exempt: [IPNetwork], dryRun: Bool, log: Log) {
        self.settings = settings
        self.script = NFTablesScript(table: settings.table, port: port, action: settings.action)
        self.greylist = greylist
        self.exempt = exempt
        self.dryRun = dryRun
        self.log = log
    }

    /// Creates the table, then loads every qualifying ban of the greylist into it.
    func start() {
        queue.sync {
            guard state == .idle else { return }
            if let problem = Self.run(script.setUp) {
                state = .unavailable
                log.warning("kernel offload unavailable (\(problem)); banned sources are refused in user space only")
                return
            }
            state = .running
            let refresh = DispatchSource.makeTimerSource(queue: queue)
            refresh.schedule(deadline: .now() + .seconds(86_400), repeating: .seconds(86_400))
            refresh.setEventHandler { [weak self] in
                guard let self else { return }
                reconfigure(exempt: exempt, dryRun: dryRun)
            }
            refreshTimer = refresh
            refresh.resume()
        }
        Task { [self] in
            let bans = await greylist.list()
            queue.async { [self] in
                guard state == .running else { return }
                resync(bans)
                flush()
                log.info("kernel offload: table inet \(settings.table), \(offloaded.count) ban(s) in the kernel "
                    + "(\(settings.action.rawValue) bans of \(settings.minimumBan.configurationText) or more"
                    + (settings.repeatOffenders > 0 ? ", and repeat offences from ban #\(settings.repeatOffenders)" : "") + ")")
            }
        }
    }

    /// Follows one greylist event.
    func receive(_ event: GreylistEvent) {
        switch event {
        case .banned(let ban, let dryRun) where !dryRun:
            queue.async { [self] in place(ban) }
        case .unbanned(let ban), .banEvicted(let ban):
            queue.async { [self] in lift(ban.network) }
        case .expired(let ban):
            queue.async { [self] in
                // The kernel let it go at the same instant.
                if let expiry = offloaded[ban.network], expiry <= ban.expiresAt.millisecondsSince1970 { offloaded[ban.network] = nil }
            }
        default:
            break
        }
    }

    /// Applies a new allowlist, trusted proxies and dry-run setting (a reload): keys that no
    /// longer qualify leave the kernel, bans that now do enter it, and elements of long bans
    /// near their end are refreshed.
    func reconfigure(exempt: [IPNetwork], dryRun: Bool) {
        Task { [self] in
            let bans = await greylist.list()
            queue.async { [self] in
                self.exempt = exempt
                self.dryRun = dryRun
                resync(bans)
                flush()
            }
        }
    }

    /// Deletes the table: a stopped server leaves no firewall state behind (start-up rebuilds it).
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                timer?.cancel()
                timer = nil
                refreshTimer?.cancel()
                refreshTimer = nil
                if state == .running, let problem = Self.run(script.tearDown) {
                    log.warning("kernel offload: could not delete table inet \(settings.table) (\(problem))")
                }
                state = .stopped
                continuation.resume()
            }
        }
    }

    // MARK: - On the queue

    private func qualifies(_ ban: BanEntry) -> Bool {
        !dryRun && settings.qualifies(ban, allowlist: exempt, nowMilliseconds: Date().millisecondsSince1970)
    }

    /// When the element for `ban` ends: with the ban, or after the longest timeout `nft` takes.
    private static func elementExpiry(_ ban: BanEntry, now: Int64) -> Int64 {
        min(ban.expiresAt.millisecondsSince1970, now + NFTablesScript.maximumTimeoutSeconds * 1_000)
    }

    /// Whether the kernel's element for `ban` needs no change: it ends with the ban, or it is a
    /// long ban's element with more than a day left.
    private func isCurrent(_ ban: BanEntry, now: Int64) -> Bool {
        guard let element = offloaded[ban.network] else { return false }
        return element == ban.expiresAt.millisecondsSince1970 || (element < ban.expiresAt.millisecondsSince1970 && element - now > 86_400_000)
    }

    private func place(_ ban: BanEntry) {
        guard state == .running else { return }
        guard qualifies(ban) else {
            // A shorter or soft ban replacing an offloaded one: the kernel must let it in again.
            if offloaded[ban.network] != nil { lift(ban.network) }
            return
        }
        let now = Date().millisecondsSince1970
        let expiry = Self.elementExpiry(ban, now: now)
        let set = NFTablesScript.setName(ban.network)
        if sets.insert(set).inserted { pending += script.addSet(for: ban.network) }
        pending += script.add(ban.network, seconds: (expiry - now) / 1_000, replacing: offloaded[ban.network] != nil)
        offloaded[ban.network] = expiry
        pendingChanges.added += 1
        scheduleFlush()
    }

    private func lift(_ network: IPNetwork) {
        guard state == .running, offloaded.removeValue(forKey: network) != nil else { return }
        pending += script.remove(network)
        pendingChanges.removed += 1
        scheduleFlush()
    }

    private func resync(_ bans: [BanEntry]) {
        guard state == .running else { return }
        let wanted = bans.filter(qualifies)
        let keys = Set(wanted.map(\.network))
        for key in offloaded.keys where !keys.contains(key) { lift(key) }
        let now = Date().millisecondsSince1970
        var fresh: [(network: IPNetwork, seconds: Int64)] = []
        for ban in wanted where !isCurrent(ban, now: now) {
            guard offloaded[ban.network] == nil else {
                place(ban)
                continue
            }
            // Not in the kernel yet: gathered into statements of many elements.
            if sets.insert(NFTablesScript.setName(ban.network)).inserted { pending += script.addSet(for: ban.network) }
            let expiry = Self.elementExpiry(ban, now: now)
            fresh.append((ban.network, (expiry - now) / 1_000))
            offloaded[ban.network] = expiry
        }
        pending += script.addNew(fresh)
        pendingChanges.added += fresh.count
    }

    private func scheduleFlush() {
        guard timer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Int(clamping: settings.batchInterval.wholeMilliseconds)))
        timer.setEventHandler { [weak self] in self?.flush() }
        self.timer = timer
        timer.resume()
    }

    /// Runs what is pending as one transaction; a failure rebuilds the table from the greylist.
    private func flush() {
        timer?.cancel()
        timer = nil
        guard state == .running, !pending.isEmpty else { return }
        let batch = pending
        let changes = pendingChanges
        pending = ""
        pendingChanges = (0, 0)
        if let problem = Self.run(batch) {
            offloaded = [:]
            sets = []
            if rebuilding {
                // The rebuilt table failed too: retrying would loop (a rebuild a batch, nft busy,
                // real bans out of the kernel). Stop, say so once, and refuse in user space.
                state = .unavailable
                _ = Self.run(script.tearDown)
                log.warning("kernel offload stopped: the rebuilt table was refused too (\(problem)); banned sources are refused in user space only")
                return
            }
            log.warning("kernel offload: a batch failed (\(problem)); rebuilding the table from the greylist")
            if let again = Self.run(script.setUp) {
                state = .unavailable
                log.warning("kernel offload unavailable (\(again)); banned sources are refused in user space only")
                return
            }
            rebuilding = true
            reconfigure(exempt: exempt, dryRun: dryRun)
            return
        }
        rebuilding = false
        log.debug("kernel offload: +\(changes.added) -\(changes.removed), \(offloaded.count) in the kernel")
    }

    /// Runs `nft -f -` with `text` on its standard input; `nil` on success, else what went wrong.
    private static func run(_ text: String) -> String? {
        guard let tool = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            return "the nft tool is not installed"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-f", "-"]
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return "\(tool): \(error.localizedDescription)"
        }
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try? input.fileHandleForWriting.close()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return nil }
        let firstLine = String(decoding: message, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return "nft exited with \(process.terminationStatus)" + (firstLine.isEmpty ? "" : ": " + OperatorText.escaped(firstLine))
    }
}

extension Date {
    /// Whole milliseconds since 1970.
    var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1_000).rounded(.down))
    }
}
