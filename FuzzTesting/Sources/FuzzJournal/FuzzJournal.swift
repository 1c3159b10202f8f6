import CFuzzDriver
import Greylist

/// Journal and snapshot decoding on arbitrary bytes, as start-up reads them
/// (`JournalStore.decodeStateFile`): records parsed, CRC-checked, applied; it must decode or
/// warn, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let snapshot = JournalStore.decodeStateFile(bytes, name: "fuzz")
    for ban in snapshot.bans { _ = ban.description }
    return 0
}

@_cdecl("FuzzJournal_main")
public func fuzzJournalMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzJournal($0, $1) }
}
