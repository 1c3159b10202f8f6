import Foundation
import Greylist

/// `ban-flood`: bans addresses in a tight loop and prints each one once the store says it is on
/// disk, so a kill at any moment can be checked against what was acknowledged.
enum BanFlood {
    static func run(stateDirectory: String, count: Int, synchronous: Bool) async -> Int32 {
        do {
            // A small compaction threshold so that a kill can land during a compaction too.
            let store = try await JournalStore.open(directory: stateDirectory, synchronous: synchronous, compactionThreshold: 16_384)
            let greylist = try Greylist(configuration: GreylistConfiguration(), store: store)
            // Continue after what an earlier run stored, so every run adds new addresses.
            let start = UInt32(await greylist.list().count)
            for index in 0..<UInt32(min(count, 1 << 24)) {
                let network = IPNetwork(host: IPAddress(ipv4: 0x0A00_0000 | (start + index) & 0x00FF_FFFF))
                try await greylist.ban(network, for: .seconds(86_400), reason: "ban-flood")
                FileHandle.standardOutput.write(Data("stored \(network)\n".utf8))
            }
            await store.close()
            return 0
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 1
        }
    }
}
