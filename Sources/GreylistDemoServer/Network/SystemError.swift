import Foundation

/// A failed system call: which call, on what, and the `errno` text.
struct SystemError: Error, CustomStringConvertible, Equatable {
    var call: String
    var subject: String
    var code: Int32

    init(_ call: String, _ subject: String = "", code: Int32 = Syscalls.errorNumber) {
        self.call = call
        self.subject = subject
        self.code = code
    }

    var description: String {
        let text = strerror(code).map { String(cString: $0) } ?? "unknown error"
        return subject.isEmpty ? "\(call): \(text) (errno \(code))" : "\(call) \(subject): \(text) (errno \(code))"
    }
}
