import CFuzzDriver
import Greylist
@_spi(Fuzzing) @_spi(Internals) import GreylistRedis

/// The key of the seeds (`make_shared_record_seeds.py`) and of the tests.
let fuzzKey = try! ClusterKey(Array("greylist-test-cluster-key-0123456789".utf8))

/// The cluster's shared values and channel messages (what any client of the same Redis can
/// write) on arbitrary bytes, with authentication in place: an even first byte reads the rest as
/// a message, an odd one as the value of `192.0.2.1/32`'s key. With bit 1 of the first byte set,
/// a value's tag is made valid first (as a node holding the key would), so mutations reach the
/// body's parser; without it they meet the tag check. Decoding must return a record or `nil`,
/// never trap; a record with whole-millisecond fields (all but a failure, whose time is a
/// `Date`) must encode back to a value that decodes to the same record.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSharedRecord(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let first = bytes.first else { return 0 }
    var rest = Array(bytes.dropFirst())
    let retag = first & 0b10 != 0
    let record: SharedRecord?
    if first % 2 == 0 {
        if retag {
            let fields = rest.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3, let network = try? IPNetwork(String(decoding: fields[1], as: UTF8.self)) {
                rest = Array(fields[0]) + [0x20] + Array(fields[1]) + [0x20]
                    + SharedRecord.retagged(value: Array(fields[2]), network: network, key: fuzzKey)
            }
        }
        record = SharedRecord.decode(message: rest, key: fuzzKey)?.record
    } else {
        let network = try! IPNetwork("192.0.2.1/32")
        if retag { rest = SharedRecord.retagged(value: rest, network: network, key: fuzzKey) }
        record = SharedRecord.decode(value: rest, network: network, key: fuzzKey)
    }
    guard let record else { return 0 }
    if case .failure = record { return 0 }
    precondition(SharedRecord.decode(value: record.value(key: fuzzKey), network: record.network, key: fuzzKey) == record, "a record did not round-trip")
    precondition(SharedRecord.decode(message: record.message(from: "fuzz", key: fuzzKey), key: fuzzKey)?.record == record, "a message did not round-trip")
    return 0
}

@_cdecl("FuzzSharedRecord_main")
public func fuzzSharedRecordMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzSharedRecord($0, $1) }
}
