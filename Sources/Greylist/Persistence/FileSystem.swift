#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations the store needs, with errors that name the path and the `errno` text.
enum FileSystem {
    static func error(_ path: String, _ call: String, code: Int32 = errno) -> GreylistError {
        let text = strerror(code).map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) } ?? "error \(code)"
        return .storage(path, reason: "\(call): \(text)")
    }

    /// Makes renames and new files in `directory` durable.
    static func syncDirectory(_ directory: String) throws(GreylistError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw error(directory, "open") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw error(directory, "fsync") }
    }

    static func read(_ path: String) throws(GreylistError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw error(path, "open")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error(path, "read")
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Writes `bytes` to `path` so that a crash leaves either the old file or the new one:
    /// a temporary file, synced, renamed over `path`, and the directory synced.
    static func replace(_ path: String, in directory: String, with bytes: [UInt8], synchronous: Bool) throws(GreylistError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw error(temporary, "open") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let failure = error(temporary, "write")
                close(descriptor)
                unlink(temporary)
                throw failure
            }
            offset += written
        }
        if synchronous && fsync(descriptor) != 0 {
            let failure = error(temporary, "fsync")
            close(descriptor)
            unlink(temporary)
            throw failure
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw error(path, "rename") }
        if synchronous { try syncDirectory(directory) }
    }

    /// The names in `directory`.
    static func list(_ directory: String) throws(GreylistError) -> [String] {
        guard let handle = opendir(directory) else { throw error(directory, "opendir") }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Moves a damaged file aside under a name that says so; never overwrites it.
    static func setAside(_ path: String, stamp: Int64) -> String {
        let aside = "\(path).damaged-\(stamp)"
        rename(path, aside)
        return aside
    }
}
