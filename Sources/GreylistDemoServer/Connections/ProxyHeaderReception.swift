import GreylistSystem
import Dispatch
import Foundation
import Greylist

/// The I/O shell that reads a trusted proxy's PROXY header (the sans-IO ``ProxyHeaderParser``
/// under one read source and one timer on a queue of its own), then hands the connection on under
/// the client's address, or closes it without sending a byte: refused by the greylist, a
/// malformed or too long header, or none within the timeout.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue`.
final class ProxyHeaderReception: @unchecked Sendable {
    private let descriptor: Int32
    private let proxy: IPAddress
    private let policy: ProxyProtocolPolicy
    private let greylist: Greylist
    private let counters: ProxyCounters
    /// Takes the connection under the client's address with the bytes that followed the header;
    /// `false` when it was not admitted (the reception then closes it).
    private let admit: @Sendable (Int32, AcceptedClient) -> Bool
    private let queue = DispatchQueue(label: "greylist.demo.proxy-header", target: .global())
    private var parser: ProxyHeaderParser
    private var readSource: DispatchSourceRead?
    private var timer: DispatchSourceTimer?
    private var done = false
    private var readBuffer = [UInt8](repeating: 0, count: 1_024)

    init(descriptor: Int32, proxy: IPAddress, policy: ProxyProtocolPolicy, greylist: Greylist, counters: ProxyCounters,
         admit: @escaping @Sendable (Int32, AcceptedClient) -> Bool) {
        self.descriptor = descriptor
        self.proxy = proxy
        self.policy = policy
        self.greylist = greylist
        self.counters = counters
        self.admit = admit
        self.parser = policy.makeParser()
    }

    /// Starts reading; the reception keeps itself alive until it hands over or closes.
    func start() {
        queue.async { [self] in
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [self] in readAvailable() }
            readSource = source
            source.resume()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [self] in refuse(.timedOut(policy.headerTimeout)) }
            let (seconds, attoseconds) = policy.headerTimeout.components
            timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)))
            self.timer = timer
            timer.resume()
        }
    }

    private func readAvailable() {
        guard !done else { return }
        let count = readBuffer.withUnsafeMutableBytes { Syscalls.read(descriptor, into: $0) }
        if count > 0 {
            handle(parser.receive(readBuffer[..<count]))
        } else if count == 0 || (Syscalls.errorNumber != EAGAIN && Syscalls.errorNumber != EWOULDBLOCK) {
            refuse(.malformed("the connection ended before its header was whole"))
        }
    }

    private func handle(_ outcome: ProxyHeaderParser.Outcome) {
        switch outcome {
        case .needMore:
            return
        case .failed(let error):
            refuse(error)
        case .header(let header, let rest):
            counters.noteAccepted()
            // LOCAL (a health check) and UNKNOWN (a Unix-socket client, say) name no client:
            // served under the proxy's address, their logins reported nowhere.
            guard let client = header.clientAddress else {
                return finish(handOver: AcceptedClient(address: proxy, reportsLogins: false, initialBytes: rest))
            }
            finish(handOver: greylist.shouldAccept(ip: client) ? AcceptedClient(address: client, initialBytes: rest) : nil)
        }
    }

    private func refuse(_ error: ProxyProtocolError) {
        guard !done else { return }
        counters.noteRefused(error)
        finish(handOver: nil)
    }

    /// Stops reading; once the read source is cancelled (Dispatch no longer watches the
    /// descriptor), hands the connection over or closes it.
    private func finish(handOver: AcceptedClient?) {
        guard !done else { return }
        done = true
        counters.endReception()
        timer?.cancel()
        let (descriptor, admit) = (self.descriptor, self.admit)
        let completion: @Sendable () -> Void = {
            if let handOver, admit(descriptor, handOver) { return }
            Syscalls.close(descriptor)
        }
        if let readSource {
            readSource.setCancelHandler(handler: completion)
            readSource.cancel()
        } else {
            completion()
        }
    }
}
