import CFuzzDriver
import Foundation
import Greylist

/// Journal decoding on arbitrary bytes, through the public store: the input is written as a
/// journal file of a fresh state directory, which is then loaded (records decoded, checked,
/// applied, damaged files set aside). It must load or report, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let directory = NSTemporaryDirectory() + "greylist-fuzz-journal-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                     attributes: [.posixPermissions: 0o700])) != nil else { return 0 }
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    let isSnapshot = bytes.starts(with: Array("greylist-snapshot".utf8))
    _ = FileManager.default.createFile(atPath: directory + (isSnapshot ? "/snapshot" : "/journal-000000000001.log"), contents: bytes)
    if let store = try? JournalStore(directory: directory, synchronous: false) {
        _ = try? store.load()
    }
    try? FileManager.default.removeItem(atPath: directory)
    return 0
}

@_cdecl("FuzzJournal_main")
public func fuzzJournalMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzJournal(data, size) }
}
