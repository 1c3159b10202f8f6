import CFuzzDriver
import Greylist
import GreylistRedis

/// The cluster's shared values and channel messages (what any client of the same Redis can
/// write) on arbitrary bytes: an even first byte reads the rest as a message, an odd one as the
/// value of `192.0.2.1/32`'s key. Decoding must return a record or `nil`, never trap; a record
/// with whole-millisecond fields (all but a failure, whose time is a `Date`) must encode back to
/// a value that decodes to the same record.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSharedRecord(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let first = bytes.first else { return 0 }
    let rest = Array(bytes.dropFirst())
    let record: SharedRecord?
    if first % 2 == 0 {
        record = SharedRecord.decode(message: rest)?.record
    } else {
        record = SharedRecord.decode(value: rest, network: try! IPNetwork("192.0.2.1/32"))
    }
    guard let record else { return 0 }
    if case .failure = record { return 0 }
    precondition(SharedRecord.decode(value: record.value, network: record.network) == record, "a record did not round-trip")
    precondition(SharedRecord.decode(message: record.message(from: "fuzz"))?.record == record, "a message did not round-trip")
    return 0
}

@_cdecl("FuzzSharedRecord_main")
public func fuzzSharedRecordMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzSharedRecord($0, $1) }
}
