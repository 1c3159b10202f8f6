import CFuzzDriver
import Greylist

/// Rule patterns on arbitrary bytes: the part before the first NUL is the pattern, the rest the
/// username. Compiling and matching must never trap, and matching is linear (a hang is a bug
/// libFuzzer reports with -timeout).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPattern(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: count)
    let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
    let pattern = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
    let username = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : "bad_user_12345"
    _ = try? GreylistRule(name: "fuzz", pattern: pattern).matches(username)
    return 0
}

@_cdecl("FuzzPattern_main")
public func fuzzPatternMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzPattern($0, $1) }
}
