import Dispatch
import Foundation

// Thin entry point: parse the command line, then either serve or send one admin request.
// Signals are blocked before any thread exists, so none arriving during start-up is lost.
SignalWatcher.block()
let log = Log()
let options: CommandLineOptions
do {
    options = try CommandLineOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    log.error("\(error)")
    exit(2)
}

switch options {
case .help:
    print(CommandLineOptions.helpText)
case .banFlood(let stateDirectory, let count, let synchronous):
    Task { exit(await BanFlood.run(stateDirectory: stateDirectory, count: count, synchronous: synchronous)) }
    dispatchMain()
case .admin(let invocation, let configurationPath):
    exit(AdminCommand.run(invocation, configurationPath: configurationPath))
case .serve(let configurationPath, let host, let port, let verbose):
    var configuration = DemoConfiguration()
    let server: DemoServer
    do {
        if let configurationPath { configuration = try DemoConfiguration(contentsOf: configurationPath) }
        if let host {
            _ = try ListenAddress(host: host, port: 0)
            configuration.server.host = host
        }
        if let port { configuration.server.port = port }
        let store = try DemoServer.openStore(configuration)
        server = try DemoServer(configuration: configuration, configurationPath: configurationPath,
                                log: Log(minimum: verbose ? .debug : .info), store: store)
        try server.start()
    } catch {
        log.block(.error, "not started: \(error)")
        exit(1)
    }
    SignalWatcher.run { signalNumber in
        server.handle(signal: signalNumber) { exit(0) }
    }
}
