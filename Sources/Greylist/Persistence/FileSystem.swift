/// The few file operations the store needs, with errors that name the path and the `errno` text.
/// Every C call goes through ``System``.
enum FileSystem {
    static func error(_ path: String, _ call: String, code: Int32 = System.errorNumber) -> GreylistError {
        .storage(path, reason: "\(call): \(System.errorText(code))")
    }

    /// Makes renames and new files in `directory` durable.
    static func syncDirectory(_ directory: String, _ operations: StorageOperations) throws(GreylistError) {
        let descriptor = System.openFile(directory, .directory)
        guard descriptor >= 0 else { throw error(directory, "open") }
        defer { System.closeFile(descriptor) }
        let code = operations.syncDirectory(descriptor, path: directory)
        guard code == 0 else { throw error(directory, "fsync", code: code) }
    }

    /// The largest state file read (a journal or snapshot of several million bans).
    static let maximumFileBytes = 2 << 30

    static func read(_ path: String) throws(GreylistError) -> [UInt8]? {
        let descriptor = System.openFile(path, .read)
        guard descriptor >= 0 else {
            if System.errorNumber == System.noSuchFile { return nil }
            throw error(path, "open")
        }
        defer { System.closeFile(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { System.readBytes(descriptor, into: $0) }
            if count < 0 { throw error(path, "read") }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= maximumFileBytes else {
                throw .storage(path, reason: "larger than \(maximumFileBytes >> 20) MiB; refusing to read it whole")
            }
        }
    }

    /// Writes all of `bytes` to `descriptor`; `path` names it in errors.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String, _ operations: StorageOperations) throws(GreylistError) {
        let code = operations.writeAll(bytes, to: descriptor, path: path)
        guard code == 0 else { throw error(path, "write", code: code) }
    }

    /// Writes `bytes` to `path` so that a crash leaves either the old file or the new one:
    /// a temporary file, synced, renamed over `path`, and the directory synced.
    static func replace(_ path: String, in directory: String, with bytes: [UInt8], synchronous: Bool,
                        _ operations: StorageOperations) throws(GreylistError) {
        // An exclusive, unique name: nothing that exists there (a planted link, a leftover) is
        // ever opened or truncated.
        let temporary = path + ".tmp-" + System.uniqueStamp
        let descriptor = System.openFile(temporary, .createNew)
        guard descriptor >= 0 else { throw error(temporary, "open") }
        do throws(GreylistError) {
            try writeAll(bytes, to: descriptor, path: temporary, operations)
            if synchronous {
                let code = operations.syncFile(descriptor, path: temporary)
                if code != 0 { throw error(temporary, "fsync", code: code) }
            }
        } catch {
            System.closeFile(descriptor)
            _ = System.removeFile(temporary)
            throw error
        }
        System.closeFile(descriptor)
        let code = operations.renameFile(temporary, to: path)
        guard code == 0 else {
            _ = System.removeFile(temporary)
            throw error(path, "rename", code: code)
        }
        if synchronous { try syncDirectory(directory, operations) }
    }

    /// The names in `directory`.
    static func list(_ directory: String) throws(GreylistError) -> [String] {
        guard let names = System.listDirectory(directory) else { throw error(directory, "opendir") }
        return names
    }

    /// Moves a damaged file aside under a name that says so; never overwrites it.
    static func setAside(_ path: String, stamp: Int64) -> String {
        let aside = "\(path).damaged-\(stamp)"
        _ = System.renameFile(path, aside)
        return aside
    }

    /// Keeps a copy of a damaged file as `<path>.damaged-<stamp>`, leaving the file itself in
    /// place (its good records are still needed until a snapshot holds them).
    static func copyAside(_ path: String, bytes: [UInt8], in directory: String, stamp: Int64, _ operations: StorageOperations) -> String {
        let aside = "\(path).damaged-\(stamp)"
        try? replace(aside, in: directory, with: bytes, synchronous: false, operations)
        return aside
    }
}
