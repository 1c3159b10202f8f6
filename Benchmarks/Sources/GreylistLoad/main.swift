import Dispatch
import Foundation
import Glibc
import Synchronization

// Floods the demo server over loopback and reports, per scenario, the SERVER's CPU time per
// connection (utime + stime of its process, from /proc/<pid>/stat) and the bytes it sent:
//   (a) refused: connections from banned sources (127.1.0.0/16 banned through the admin socket)
//   (b) failed login: a full stream + SASL PLAIN failure from sources that are not banned
//   (c) baseline: a plain accept-and-close server (this tool, re-executed), in the same run
// Sources vary over 127.0.0.0/8 by binding the client socket before connecting. Counts and time
// are bounded; loopback only.
//
// Usage: GreylistLoad --server PATH/TO/GreylistDemoServer [--connections N] [--seconds S] [--threads T]
//
// With --offload (run it inside a network namespace: Benchmarks/offload.sh), instead: attempts
// from banned sources against the demo refusing in user space, then against the demo with
// kernelOffload on (the kernel resets the SYN), each reported as the WHOLE MACHINE's CPU per
// attempt (from /proc/stat, client included) and the server process's own.

struct Options {
    var server = ""
    var connections = 40_000
    var seconds = 20.0
    var threads = 3
    var offload = false

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--server": server = rest.popFirst() ?? ""
            case "--connections": connections = Int(rest.popFirst() ?? "") ?? connections
            case "--seconds": seconds = Double(rest.popFirst() ?? "") ?? seconds
            case "--threads": threads = Int(rest.popFirst() ?? "") ?? threads
            case "--offload": offload = true
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

// MARK: - Baseline server: accept and close, nothing else

func runBaselineServer() -> Never {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    listen(listener, 1_024)
    var bound = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) } }
    FileHandle.standardOutput.write(Data("\(UInt16(bigEndian: bound.sin_port))\n".utf8))
    while true {
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &peerLength) } }
        if client >= 0 { close(client) }
    }
}

// MARK: - Client side

func connect(to port: Int, from source: UInt32) -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_addr.s_addr = source.bigEndian
    var remote = sockaddr_in()
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = UInt16(port).bigEndian
    remote.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let ok = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
        && withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    if !ok {
        close(descriptor)
        return -1
    }
    return descriptor
}

/// Reads until `marker` (or EOF when nil); returns the bytes read.
func read(_ descriptor: Int32, until marker: String?) -> Int {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 8_192)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return received.count }
        received += chunk[..<count]
        if let marker, String(decoding: received, as: UTF8.self).contains(marker) { return received.count }
    }
}

func send(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}

let header = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
let failedAuth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0demo\0wrong-password".utf8).base64EncodedString())</auth>"

enum Dialogue {
    /// Connect and read until the server closes.
    case readToClose
    /// A full failed login, then a clean close.
    case failedLogin
    /// Connect; a reset to the SYN (refused by the kernel) counts as a finished attempt too.
    case attempt

    func run(port: Int, source: UInt32) -> (ok: Bool, bytes: Int) {
        let descriptor = connect(to: port, from: source)
        guard descriptor >= 0 else { return (self == .attempt && errno == ECONNREFUSED, 0) }
        defer { close(descriptor) }
        switch self {
        case .readToClose, .attempt:
            return (true, read(descriptor, until: nil))
        case .failedLogin:
            send(descriptor, header)
            var bytes = read(descriptor, until: "</stream:features>")
            send(descriptor, failedAuth)
            bytes += read(descriptor, until: "</failure>")
            send(descriptor, "</stream:stream>")
            bytes += read(descriptor, until: nil)
            return (true, bytes)
        }
    }
}

// MARK: - Measuring the server

func cpuMicroseconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks * 1_000_000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Busy time of every core since boot, from the first line of /proc/stat (idle and iowait excluded).
func machineMicroseconds() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
    let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard ticks.count >= 8 else { return 0 }
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy * 1_000_000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

struct Result {
    var name: String
    var connections = 0
    var failures = 0
    var bytes = 0
    var seconds = 0.0
    var cpu = 0.0
    /// The whole machine's busy CPU time (every core, every process, the kernel).
    var machineCPU = 0.0

    var perSecond: Double { Double(connections) / seconds }
    var cpuPerConnection: Double { cpu / Double(max(connections, 1)) }
    var bytesPerConnection: Double { Double(bytes) / Double(max(connections, 1)) }
}

func measure(_ name: String, pid: Int32, port: Int, dialogue: Dialogue, sourceBase: UInt32, options: Options) -> Result {
    // Warm up, then measure.
    for index in 0..<200 { _ = dialogue.run(port: port, source: sourceBase + 1 + UInt32(index % 250)) }
    let total = Mutex(Result(name: name))
    let perThread = options.connections / options.threads
    let deadline = Date().addingTimeInterval(options.seconds)
    let cpuBefore = cpuMicroseconds(pid)
    let machineBefore = machineMicroseconds()
    let start = Date()
    DispatchQueue.concurrentPerform(iterations: options.threads) { thread in
        var local = Result(name: name)
        for index in 0..<perThread {
            if index % 256 == 0 && Date() > deadline { break }
            // Sources 127.x.y.z spread over 64k addresses so no 4-tuple repeats while in TIME_WAIT.
            let offset = UInt32((thread * perThread + index) % 65_000)
            let (ok, bytes) = dialogue.run(port: port, source: sourceBase + 1 + (offset / 250) << 8 + offset % 250)
            if ok { local.connections += 1 } else { local.failures += 1 }
            local.bytes += bytes
        }
        total.withLock { result in
            result.connections += local.connections
            result.failures += local.failures
            result.bytes += local.bytes
        }
    }
    var result = total.withLock { $0 }
    result.seconds = Date().timeIntervalSince(start)
    result.cpu = cpuMicroseconds(pid) - cpuBefore
    result.machineCPU = machineMicroseconds() - machineBefore
    return result
}

// MARK: - Main

if CommandLine.arguments.dropFirst().first == "--baseline-server" {
    runBaselineServer()
}
let options = Options(Array(CommandLine.arguments.dropFirst()))
guard FileManager.default.isExecutableFile(atPath: options.server) else {
    FileHandle.standardError.write(Data("--server must name the GreylistDemoServer executable\n".utf8))
    exit(2)
}

/// Bans 127.1.0.0/16 for an hour through the admin socket at `adminSocket`.
func banLoadSources(adminSocket: String) {
    let admin = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var unixAddress = sockaddr_un()
    unixAddress.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &unixAddress.sun_path) { $0.copyBytes(from: Array(adminSocket.utf8)) }
    withUnsafePointer(to: &unixAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = Glibc.connect(admin, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    send(admin, #"{"command":"ban","network":"127.1.0.0/16","duration":"1h","reason":"load test"}"# + "\n")
    _ = read(admin, until: nil)
    close(admin)
}

/// Runs the demo with `configuration`; returns it and its log up to the settings line, then
/// keeps draining the log so the server never blocks on a full pipe.
func launchDemo(configuration: String) throws -> (Process, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: options.server)
    process.arguments = ["--config", configuration]
    let log = Pipe()
    process.standardError = log
    try process.run()
    var text = ""
    while !text.contains("admin socket") {
        let data = log.fileHandleForReading.availableData
        if data.isEmpty { break }
        text += String(decoding: data, as: UTF8.self)
    }
    DispatchQueue.global().async { while !log.fileHandleForReading.availableData.isEmpty {} }
    return (process, text)
}

/// Starts the demo with `server` settings merged in; returns it, its port and its admin socket.
func startDemo(_ directory: String, extraServer: String) throws -> (Process, Int, String) {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let socket = directory + "/admin.sock"
    try """
    {"server": {"host": "127.0.0.1", "port": 5222, "adminSocket": "\(socket)", "maxConnections": 4096, "refusalSummaryInterval": "1h"\(extraServer)},
     "greylist": {"stateDirectory": ""}}
    """.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
    let (process, _) = try launchDemo(configuration: directory + "/config.json")
    banLoadSources(adminSocket: socket)
    usleep(300_000)  // the offload's first batch (100 ms) is in the kernel before measuring
    return (process, 5222, socket)
}

if options.offload {
    let directory = NSTemporaryDirectory() + "greylist-offload-\(getpid())"
    var results: [Result] = []
    for (name, extra) in [("user space: accept + close", ""), ("kernel offload: SYN reset", #", "kernelOffload": {"enabled": true, "minimumBan": "1h"}"#)] {
        let (demo, port, _) = try startDemo(directory + "-\(results.count)", extraServer: extra)
        results.append(measure(name, pid: demo.processIdentifier, port: port, dialogue: .attempt, sourceBase: 0x7F01_0000, options: options))
        demo.terminate()
        demo.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory + "-\(results.count - 1)")
    }
    print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; client threads: \(options.threads); attempts from banned sources")
    print("| refusal | attempts | attempts/s | machine CPU µs/attempt (client included) | server CPU µs/attempt | failed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for result in results {
        print(String(format: "| %@ | %d | %.0f | %.1f | %.2f | %d |", result.name, result.connections, result.perSecond,
                     result.machineCPU / Double(max(result.connections, 1)), result.cpuPerConnection, result.failures))
    }
    print(String(format: "kernel offload vs user space: machine CPU per attempt %.2fx, server CPU per attempt %.3fx",
                 (results[1].machineCPU / Double(max(results[1].connections, 1))) / (results[0].machineCPU / Double(max(results[0].connections, 1))),
                 results[1].cpuPerConnection / max(results[0].cpuPerConnection, 0.001)))
    exit(0)
}

let state = NSTemporaryDirectory() + "greylist-load-\(getpid())"
try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
let adminSocket = state + "/admin.sock"
let configuration = """
{"server": {"host": "127.0.0.1", "port": 0, "adminSocket": "\(adminSocket)", "maxConnections": 4096,
            "maxAuthAttempts": 100, "refusalSummaryInterval": "1h"},
 "greylist": {"stateDirectory": "", "rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$", "banFor": "4h"}]}}
"""
try configuration.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)

let (demo, startup) = try launchDemo(configuration: state + "/config.json")
guard let portText = startup.split(separator: "listening on 127.0.0.1:").dropFirst().first?.prefix(while: \.isNumber),
      let demoPort = Int(portText) else {
    FileHandle.standardError.write(Data("the demo server did not start:\n\(startup)\n".utf8))
    exit(1)
}

let baseline = Process()
baseline.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
baseline.arguments = ["--baseline-server"]
let baselineOut = Pipe()
baseline.standardOutput = baselineOut
try baseline.run()
let baselinePort = Int(String(decoding: baselineOut.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!

banLoadSources(adminSocket: adminSocket)

let machine = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(machine); client threads: \(options.threads)")

let results = [
    measure("(c) baseline accept+close", pid: baseline.processIdentifier, port: baselinePort, dialogue: .readToClose, sourceBase: 0x7F03_0000, options: options),
    measure("(a) refused, banned source", pid: demo.processIdentifier, port: demoPort, dialogue: .readToClose, sourceBase: 0x7F01_0000, options: options),
    measure("(b) failed login, not banned", pid: demo.processIdentifier, port: demoPort, dialogue: .failedLogin, sourceBase: 0x7F02_0000,
            options: Options(["--connections", String(options.connections / 4), "--seconds", String(options.seconds), "--threads", String(options.threads)])),
]
let baselineCPU = results[0].cpuPerConnection
print("| scenario | connections | conn/s | server CPU µs/conn | × baseline | bytes sent/conn | failed connects |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for result in results {
    print(String(format: "| %@ | %d | %.0f | %.1f | %.2f | %.1f | %d |", result.name, result.connections, result.perSecond,
                 result.cpuPerConnection, result.cpuPerConnection / baselineCPU, result.bytesPerConnection, result.failures))
}
demo.terminate()
baseline.terminate()
demo.waitUntilExit()
baseline.waitUntilExit()
try? FileManager.default.removeItem(atPath: state)
