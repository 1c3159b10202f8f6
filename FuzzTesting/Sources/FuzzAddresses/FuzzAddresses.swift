import CFuzzDriver
import Greylist

/// Address and network text on arbitrary bytes: a parse that succeeds must print text that
/// parses back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAddresses(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    if let address = try? IPAddress(text) {
        guard (try? IPAddress(address.description)) == address else { fatalError("\(address) does not round-trip") }
    }
    if let network = try? IPNetwork(text) {
        guard (try? IPNetwork(network.description)) == network else { fatalError("\(network) does not round-trip") }
        _ = network.contains(network.address)
    }
    return 0
}

@_cdecl("FuzzAddresses_main")
public func fuzzAddressesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzAddresses($0, $1) }
}
