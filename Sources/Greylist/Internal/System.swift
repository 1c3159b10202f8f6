#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system calls the store makes, one thin wrapper each, so that the platform's C library
/// is imported in this file alone (as swift-nio's `System.swift` does). Reads and writes retry
/// `EINTR`; every wrapper returns the C result and leaves `errno` for the caller to report.
enum System {
    /// The calling thread's last error number.
    static var errorNumber: Int32 { errno }

    /// The C library's text for an error number.
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    static let wouldBlock = EWOULDBLOCK
    static let alreadyExists = EEXIST
    static let noSuchFile = ENOENT
    static let interrupted = EINTR

    /// Flags for ``openFile(_:_:)``; every descriptor is close-on-exec, and no file is opened
    /// through a symbolic link (`O_NOFOLLOW`): a link planted in the state directory cannot
    /// redirect a write.
    enum OpenMode {
        /// Read only.
        case read
        /// A directory, read only (to `fsync` it).
        case directory
        /// Read and write, created with `0600` when missing.
        case lockFile
        /// Append-only, created with `0600` when missing.
        case append
        /// A new file, `0600`, that must not exist yet (`O_EXCL`).
        case createNew

        var flags: Int32 {
            switch self {
            case .read: return O_RDONLY | O_CLOEXEC | O_NOFOLLOW
            case .directory: return O_RDONLY | O_DIRECTORY | O_CLOEXEC
            case .lockFile: return O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW
            case .append: return O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW
            case .createNew: return O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
            }
        }
    }

    static func openFile(_ path: String, _ mode: OpenMode) -> Int32 {
        while true {
            let descriptor = path.withCString { open($0, mode.flags, 0o600) }
            if descriptor >= 0 || errno != EINTR { return descriptor }
        }
    }

    /// Closes a descriptor. `EINTR` is not retried: on Linux the descriptor is gone either way.
    static func closeFile(_ descriptor: Int32) {
        _ = close(descriptor)
    }

    static func readBytes(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 || errno != EINTR { return count }
        }
    }

    static func writeBytes(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        while true {
            let count = write(descriptor, bytes.baseAddress, bytes.count)
            if count >= 0 || errno != EINTR { return count }
        }
    }

    static func syncFile(_ descriptor: Int32) -> Int32 {
        fsync(descriptor)
    }

    /// Takes an exclusive `flock` without waiting; `EWOULDBLOCK` when another holds it.
    static func lockExclusively(_ descriptor: Int32) -> Int32 {
        flock(descriptor, LOCK_EX | LOCK_NB)
    }

    /// The owner and permission bits of an open descriptor, or `nil` with `errno` set.
    static func ownerAndMode(_ descriptor: Int32) -> (owner: UInt32, mode: UInt32)? {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        return (UInt32(status.st_uid), UInt32(status.st_mode) & 0o7777)
    }

    /// The effective user id of this process.
    static var effectiveUser: UInt32 { UInt32(geteuid()) }

    /// A file's length (its end), or -1 with `errno` set.
    static func fileLength(_ descriptor: Int32) -> Int64 {
        Int64(lseek(descriptor, 0, SEEK_END))
    }

    /// Cuts a file back to `length`; 0, or -1 with `errno` set.
    static func truncate(_ descriptor: Int32, to length: Int64) -> Int32 {
        ftruncate(descriptor, off_t(length))
    }

    /// A number for unique temporary names: the process id and the monotonic clock.
    static var uniqueStamp: String {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return "\(getpid())-\(time.tv_sec)\(time.tv_nsec)"
    }

    static func makeDirectory(_ path: String) -> Int32 {
        mkdir(path, 0o700)
    }

    static func removeFile(_ path: String) -> Int32 {
        unlink(path)
    }

    static func renameFile(_ from: String, _ to: String) -> Int32 {
        rename(from, to)
    }

    /// The names in `directory` other than `.` and `..`, or `nil` with `errno` set.
    static func listDirectory(_ directory: String) -> [String]? {
        guard let handle = opendir(directory) else { return nil }
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
}
