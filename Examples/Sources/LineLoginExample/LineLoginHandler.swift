import Greylist
import GreylistNIO
import NIOCore

/// One connection of the line protocol: `LOGIN <user> <password>` answered by `OK` or `DENIED`,
/// one login at a time, every failure reported to the greylist before it is answered.
final class LineLoginHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let greylist: Greylist
    private let accounts: [String: String]
    private var input = ByteBuffer()
    private var waitingForVerdict = false

    init(greylist: Greylist, accounts: [String: String]) {
        self.greylist = greylist
        self.accounts = accounts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        input.writeBuffer(&bytes)
        guard input.readableBytes <= 1_024 else { return context.close(promise: nil) }  // no line is that long
        answerLines(context: context)
    }

    private func answerLines(context: ChannelHandlerContext) {
        while !waitingForVerdict, let newline = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")),
              let line = input.readString(length: newline - input.readerIndex + 1) {
            let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 2).map(String.init)
            guard words.count == 3, words[0] == "LOGIN", let peer = context.channel.remoteAddress.flatMap(IPAddress.init) else {
                reply("ERROR", context: context)
                continue
            }
            waitingForVerdict = true
            let verdict = context.eventLoop.makePromise(of: Bool?.self)
            verdict.completeWithTask { [greylist, accounts] in
                await Self.judge(user: words[1], password: words[2], peer: peer, greylist: greylist, accounts: accounts)
            }
            verdict.futureResult.assumeIsolated().whenSuccess { closeConnection in
                self.waitingForVerdict = false
                self.reply(closeConnection == nil ? "OK" : "DENIED", context: context)
                if closeConnection == true { context.close(promise: nil) } else { self.answerLines(context: context) }
            }
        }
    }

    /// `nil` for a login; for a failure, whether the greylist says to end the connection.
    private static func judge(user: String, password: String, peer: IPAddress, greylist: Greylist, accounts: [String: String]) async -> Bool? {
        let known = accounts[user]
        // A shared address whose guesses at this account are used up today gets no check at all.
        if greylist.shouldVerify(user: user, ip: peer), let known, sameInConstantTime(known, password) {
            await greylist.recordSuccessfulAuth(user: user, ip: peer)
            return nil
        }
        let outcome = await greylist.recordFailedAuth(user: user, ip: peer, kind: known == nil ? .unknownAccount : .invalidCredentials)
        return outcome.closesStream
    }

    /// Compares without stopping at the first difference (the length still shows).
    private static func sameInConstantTime(_ expected: String, _ given: String) -> Bool {
        let (left, right) = (Array(expected.utf8), Array(given.utf8))
        var difference: UInt8 = left.count == right.count ? 0 : 1
        for index in 0..<min(left.count, right.count) { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    private func reply(_ text: String, context: ChannelHandlerContext) {
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: text + "\n")), promise: nil)
    }
}
