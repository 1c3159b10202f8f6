import CFuzzDriver
import GreylistXMPP

/// The XMPP engine on arbitrary bytes: the input is split into chunks at its own 0xFF bytes (so
/// the fuzzer explores partial reads), every request is answered, alternately yes and no. An odd
/// first byte makes the host offer STARTTLS (its handshake "succeeds" at once).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXMPPEngine(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: count)
    let start = ContinuousClock.now
    var settings = XMPPSessionSettings(maxStanzaBytes: 4_096, maxDepth: 8)
    settings.offersStartTLS = (bytes.first ?? 0) % 2 == 1
    var session = XMPPServerSession(settings: settings, now: start)
    var answer = false
    for (index, chunk) in bytes.split(separator: 0xFF, omittingEmptySubsequences: false).enumerated() {
        var output = session.receive(chunk, at: start + .milliseconds(index))
        var rounds = 0
        while !output.requests.isEmpty, rounds < 8 {
            rounds += 1
            let request = output.requests.removeFirst()
            switch request {
            case .checkCredentials:
                answer.toggle()
                output = session.credentialsChecked(answer ? .valid : .unknownAccount, at: start)
            case .reportFailure:
                output = session.failureRecorded(closeStream: answer, at: start)
            case .reportSuccess:
                break
            case .startTLS:
                output = session.tlsEstablished(at: start)
            }
        }
        if session.isClosed { break }
    }
    _ = session.deadlineReached(at: start + .seconds(3_600))
    return 0
}

@_cdecl("FuzzXMPPEngine_main")
public func fuzzXMPPEngineMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzXMPPEngine($0, $1) }
}
