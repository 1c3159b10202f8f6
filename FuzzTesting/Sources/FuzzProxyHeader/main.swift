import CFuzzDriver
import Greylist

/// The PROXY protocol header parser on arbitrary bytes, as a load balancer's connection delivers
/// them: the first byte sets the size of the pieces (1 to 256 bytes). It must say "more", a
/// header, or an error, never trap; once failed it stays failed; a header's `rest` must be the
/// input's tail; and `startsLikeHeader` must never call a prefix of a header "not one".
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyHeader(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let first = bytes.first else { return 0 }
    let piece = Int(first) + 1
    let input = Array(bytes.dropFirst())
    var parser = ProxyHeaderParser(maximumLength: 512)
    var start = 0
    while start < input.count {
        let end = min(start + piece, input.count)
        switch parser.receive(input[start..<end]) {
        case .needMore:
            start = end
            continue
        case .header(_, let rest):
            precondition(input[..<end].hasSuffix(rest), "rest is not the input's tail")
            precondition(ProxyHeaderParser.startsLikeHeader(input.prefix(12)) != false, "a header was called not one")
        case .failed(let error):
            _ = error.description
            precondition(parser.receive([0x0D, 0x0A]) == .failed(error), "a failed parser recovered")
        }
        break
    }
    return 0
}

@_cdecl("FuzzProxyHeader_main")
public func fuzzProxyHeaderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzProxyHeader($0, $1) }
}

extension ArraySlice where Element == UInt8 {
    func hasSuffix(_ suffix: [UInt8]) -> Bool {
        count >= suffix.count && self.suffix(suffix.count).elementsEqual(suffix)
    }
}
