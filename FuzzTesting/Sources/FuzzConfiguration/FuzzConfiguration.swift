import CFuzzDriver
import Foundation
import Greylist

/// The configuration reader (JSON, durations, networks, rules and their patterns) on arbitrary
/// bytes: it must report problems, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    if let configuration = try? GreylistConfiguration(json: bytes) {
        _ = try? JSONEncoder().encode(configuration)
        for rule in configuration.rules { _ = try? rule.matches("bad_user_12345") }
    }
    return 0
}

@_cdecl("FuzzConfiguration_main")
public func fuzzConfigurationMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzConfiguration($0, $1) }
}
