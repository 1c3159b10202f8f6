import GreylistSystem
import Foundation
import Greylist
import Synchronization

/// The accept loop: a dedicated thread blocked in `accept(2)`, as a C server's would be.
///
/// Each accepted socket's peer address is read from the `sockaddr` the kernel filled and checked
/// with the greylist's synchronous ``Greylist/shouldAccept(ip:)`` before a byte is read or
/// written. A refused connection costs `accept`, the check and `close`: no event wakeup, no
/// queue hop, no log line (the greylist counts refusals; the summary reports them). Measured
/// against a plain accept-and-close loop, a Dispatch read source here cost about 1.85× the
/// baseline's CPU per refused connection: the epoll wakeup and the hop to a worker thread.
final class AcceptLoop: ServerService {
    let name = "accept loop"
    let descriptor: Int32
    private let greylist: Greylist
    private let log: Log
    /// Takes an admitted connection (its client, and the bytes read after a PROXY header);
    /// `false` means over capacity (the caller closes it).
    private let admit: @Sendable (Int32, AcceptedClient) -> Bool
    private let proxyProtocol: ProxyProtocolPolicy
    private let proxyCounters: ProxyCounters
    /// Headers read at once at most (each holds a descriptor until it is whole or times out).
    private let maxPendingHeaders: Int
    private let overCapacity = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let ended = Completion()

    init(descriptor: Int32, greylist: Greylist, log: Log, proxyProtocol: ProxyProtocolPolicy = ProxyProtocolPolicy(),
         proxyCounters: ProxyCounters, maxPendingHeaders: Int = 1_024, admit: @escaping @Sendable (Int32, AcceptedClient) -> Bool) {
        self.descriptor = descriptor
        self.greylist = greylist
        self.log = log
        self.proxyProtocol = proxyProtocol
        self.proxyCounters = proxyCounters
        self.maxPendingHeaders = maxPendingHeaders
        self.admit = admit
    }

    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in run() }
        thread.name = "greylist.accept"
        thread.start()
    }

    /// Wakes the blocked `accept` (shutdown makes it fail) and returns once the loop has ended
    /// and closed the listener.
    func stop() async {
        guard started.load(ordering: .acquiring) else {
            if !stopping.exchange(true, ordering: .acquiringAndReleasing) { Syscalls.close(descriptor) }
            return
        }
        if !stopping.exchange(true, ordering: .acquiringAndReleasing) {
            Syscalls.shutdown(descriptor)
        }
        await ended.wait()
    }

    /// Connections closed over the connection cap since the last call.
    func takeOverCapacity() -> Int {
        overCapacity.exchange(0, ordering: .relaxed)
    }

    private func run() {
        // Foundation's Thread does not keep the creator's signal mask; signals belong to main.
        SignalWatcher.block()
        var lastWarning = ContinuousClock.now - .seconds(60)
        while true {
            var storage = sockaddr_storage()
            let client = Syscalls.accept(descriptor, into: &storage)
            guard client >= 0 else {
                let code = Syscalls.errorNumber
                if stopping.load(ordering: .acquiring) { break }
                switch code {
                case ECONNABORTED, EPROTO, EINTR:
                    continue
                default:
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM and the unexpected: back off briefly
                    // instead of spinning; the kernel keeps the backlog.
                    if ContinuousClock.now - lastWarning > .seconds(10) {
                        lastWarning = .now
                        log.warning("\(SystemError("accept", code: code)); pausing accepts for 100 ms")
                    }
                    Syscalls.pause(milliseconds: 100)
                    continue
                }
            }
            guard let peer = IPAddress(socketAddress: storage) else {
                Syscalls.close(client)
                continue
            }
            if proxyProtocol.expectsHeader(from: peer) {
                // A load balancer: the greylist judges the client its header names, once read.
                receiveProxyHeader(client, from: peer)
                continue
            }
            guard greylist.shouldAccept(ip: peer) else {
                Syscalls.close(client)
                continue
            }
            if !admit(client, AcceptedClient(address: peer)) {
                Syscalls.close(client)
                overCapacity.add(1, ordering: .relaxed)
            }
        }
        Syscalls.close(descriptor)
        ended.signal()
    }

    /// Hands a trusted proxy's connection to a ``ProxyHeaderReception`` (bounded in number).
    private func receiveProxyHeader(_ client: Int32, from proxy: IPAddress) {
        guard proxyCounters.beginReception(limit: maxPendingHeaders), (try? Syscalls.setNonBlocking(client)) != nil else {
            Syscalls.close(client)
            overCapacity.add(1, ordering: .relaxed)
            return
        }
        ProxyHeaderReception(descriptor: client, proxy: proxy, policy: proxyProtocol, greylist: greylist, counters: proxyCounters) { [self] descriptor, client in
            if admit(descriptor, client) { return true }
            overCapacity.add(1, ordering: .relaxed)
            return false
        }.start()
    }
}
