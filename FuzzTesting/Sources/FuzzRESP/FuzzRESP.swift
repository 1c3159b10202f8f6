import CFuzzDriver
@_spi(Internals) import GreylistRedis

/// The RESP reader on arbitrary bytes, as a Redis connection feeds it: the first byte sets the
/// size of the pieces the rest arrives in (1 to 256 bytes); it must return values or throw,
/// never trap, and a failed parser must stay failed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let first = bytes.first else { return 0 }
    let piece = Int(first) + 1
    var parser = RESPParser(limits: .init(maxBulkBytes: 4_096, maxArrayElements: 4_096, maxDepth: 8, maxLineBytes: 1_024))
    var start = 1
    var failed = false
    while start < bytes.count {
        parser.append(bytes[start..<min(start + piece, bytes.count)])
        start += piece
        do {
            while let value = try parser.next() { _ = value.description }
        } catch {
            failed = true
        }
        if failed {
            precondition((try? parser.next()) == nil, "a failed parser returned a value")
            break
        }
    }
    return 0
}

@_cdecl("FuzzRESP_main")
public func fuzzRESPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    greylist_fuzz_run(argc, argv) { fuzzRESP($0, $1) }
}
