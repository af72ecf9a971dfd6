import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// `meshline queue …`: the exception router's cases for the humans who work them.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "List, claim and resolve exception cases; follow the router's notifications.",
        discussion: ExitStatus.help,
        subcommands: [List.self, Claim.self, Resolve.self, Notifications.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List cases soonest due first (open cases only, unless --state or --all).")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Only cases in this queue, e.g. agency-ops.")
        var queue = ""
        @Option(help: "Only cases in this state: retrying, queued, claimed or resolved.")
        var state: String?
        @Flag(help: "Also list resolved cases.")
        var all = false

        func run() async throws {
            try await runReporting("queue list") {
                let tenant = try mesh.requireTenant()
                var request = ListQueueRequest(tenantID: tenant, queue: queue, pageSize: 1000)
                if let state { request.state = try parseEnum(state, option: "--state", prefix: "CASE_STATE_") }
                var cases: [ExceptionCase] = []
                try await withClient(try mesh.exceptions()) { client in
                    repeat {
                        let page: ListQueueResponse = try await client.unary(ExceptionRouterDescriptor.listQueue, request)
                        cases += page.cases
                        request.pageToken = page.nextPageToken
                    } while !request.pageToken.isEmpty
                }
                if state == nil && !all { cases.removeAll { $0.state == .resolved } }
                cases.sort { (CaseText.due($0), $0.caseID) < (CaseText.due($1), $1.caseID) }
                let response = ListQueueResponse(cases: cases)
                mesh.emit(response) {
                    guard !cases.isEmpty else { return "no cases" + (state == nil && !all ? " open (--all includes resolved ones)" : "") }
                    return textTable(
                        ["CASE", "EXPORT", "KIND", "REASON", "STATE", "LEVEL", "DUE", "CLAIMED BY"],
                        cases.map { c in
                            [
                                c.caseID, "\(c.exportID)@\(c.exportVersion)", shortName(c.kind.protoName, prefix: "CASE_KIND_"), CaseText.reason(c),
                                shortName(c.state.protoName, prefix: "CASE_STATE_"), String(c.escalationLevel), formatTime(CaseText.due(c)),
                                c.claimedBy.isEmpty ? "-" : c.claimedBy,
                            ]
                        })
                }
            }
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim a queued case (stops its escalation), or --release your claim.")

        @OptionGroup var target: CaseTarget
        @Flag(help: "Release an earlier claim instead of claiming.")
        var release = false

        func run() async throws {
            try await target.change("queue claim", ExceptionRouterDescriptor.claim, \ClaimResponse.exceptionCase) { tenant, party in
                ClaimRequest(tenantID: tenant, caseID: target.caseID, claimant: party, release: release)
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve a case: --retried, --overridden EXPORT@VERSION (the version a signed override produced), or --cancelled --reason TEXT.")

        @OptionGroup var target: CaseTarget
        @Flag(help: "A retry produced a published export version.")
        var retried = false
        @Option(help: "The export version a signed override produced, EXPORT_ID@VERSION.")
        var overridden: String?
        @Flag(help: "The order was cancelled (needs --reason).")
        var cancelled = false
        @Option(help: "Why; required with --cancelled.")
        var reason = ""

        func run() async throws {
            try await target.change("queue resolve", ExceptionRouterDescriptor.resolve, \ResolveResponse.exceptionCase) { tenant, party in
                ResolveRequest(tenantID: tenant, caseID: target.caseID, resolution: try resolution(), actor: party)
            }
        }

        private func resolution() throws -> Resolution {
            let chosen = [retried, overridden != nil, cancelled].filter { $0 }.count
            guard chosen == 1 else {
                throw CLIFailure.badInput("say how the case ended with exactly one of --retried, --overridden EXPORT@VERSION, --cancelled --reason TEXT")
            }
            if let overridden {
                let parts = overridden.split(separator: "@", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, let version = Int64(parts[1]), version > 0 else {
                    throw CLIFailure.badInput("--overridden '\(overridden)' is not EXPORT_ID@VERSION, e.g. exp-1@3 (the version `meshline override submit` printed)")
                }
                return Resolution(kind: .overridden, overrideRef: overridden, reason: reason)
            }
            if cancelled {
                guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw CLIFailure.badInput("--cancelled needs --reason TEXT: say why the order was cancelled")
                }
                return Resolution(kind: .cancelled, reason: reason)
            }
            return Resolution(kind: .retried, reason: reason)
        }
    }

    struct Notifications: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream the router's notifications (escalations, delay notices, resolutions); resume with --cursor.",
            discussion: "Prints one line per notification (one JSON object per line with --json), each with its cursor. Ctrl-C stops.")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Resume after this cursor (printed with each notification); default: the oldest kept.")
        var cursor = ""
        @Option(help: "Stop after this many notifications (0: never).")
        var limit = 0

        func run() async throws {
            try await runReporting("queue notifications") {
                let tenant = try mesh.requireTenant()
                guard limit >= 0 else { throw CLIFailure.badInput("--limit \(limit) is negative; pass 0 (never stop) or a count") }
                var streaming = mesh
                streaming.timeout = 365 * 24 * 3600  // a stream runs until stopped
                try await withClient(try streaming.exceptions()) { client in
                    let stream: ResponseStream<NotificationEvent> = try await client.serverStreaming(
                        ExceptionRouterDescriptor.notifications, NotificationsRequest(tenantID: tenant, cursor: cursor))
                    var seen = 0
                    for try await event in stream {
                        if mesh.json {
                            print(event.protoJSON.text(pretty: false))
                        } else {
                            let recipients = event.recipients.map(\.contactID).joined(separator: ",")
                            print("\(formatTime(event.atUnixMs)) \(shortName(event.kind.protoName, prefix: "NOTIFICATION_KIND_")) case \(event.caseID) "
                                + "export \(event.exportID) order \(event.orderID): \(event.message)"
                                + (recipients.isEmpty ? "" : "  to \(recipients)") + "  cursor \(event.cursor)")
                        }
                        fflush(nil)  // each notification reaches a pipe at once
                        seen += 1
                        if limit > 0 && seen >= limit { break }
                    }
                }
            }
        }
    }
}

/// The case a command acts on and who acts.
struct CaseTarget: ParsableArguments {
    @OptionGroup var mesh: MeshOptions
    @Argument(help: "The case id.")
    var caseID: String
    @Option(name: .customLong("as"), help: ArgumentHelp("Who acts, as a party, e.g. agency:fulfillment-team.", valueName: "role:name"))
    var party: String

    /// Sends the request `make` builds from the tenant and the acting party, and prints the case the router returns.
    func change<Request: ProtobufMessage, Response: ProtobufMessage & ProtoJSONMessage>(
        _ command: String, _ method: RPCMethod, _ exceptionCase: KeyPath<Response, ExceptionCase?>,
        _ make: (_ tenant: String, _ party: String) throws -> Request
    ) async throws {
        try await runReporting(command) {
            let request = try make(try mesh.requireTenant(), try CaseText.party(party))
            let response: Response = try await withClient(try mesh.exceptions()) { client in try await client.unary(method, request) }
            mesh.emit(response) { CaseText.summary(response[keyPath: exceptionCase] ?? ExceptionCase()) }
        }
    }
}

/// Text forms of exception cases for people.
enum CaseText {
    /// When the case next needs something: its retry while retrying, else its escalation due time; never-due last.
    static func due(_ c: ExceptionCase) -> Int64 {
        let due = c.state == .retrying ? c.nextAttemptAtUnixMs : c.dueAtUnixMs
        return due == 0 ? .max : due
    }

    static func reason(_ c: ExceptionCase) -> String {
        c.reason.rawValue == 0 ? "-" : shortName(c.reason.protoName, prefix: "REJECTION_REASON_")
    }

    /// Checks a party text and returns it unchanged.
    static func party(_ text: String) throws -> String {
        do {
            _ = try Party(parsing: text)
        } catch {
            throw CLIFailure.badInput("--as: \(error); write the party as ROLE:NAME, e.g. agency:fulfillment-team")
        }
        return text
    }

    static func summary(_ c: ExceptionCase) -> String {
        var lines = [
            "case \(c.caseID)  \(shortName(c.kind.protoName, prefix: "CASE_KIND_")) (\(reason(c)))  \(shortName(c.state.protoName, prefix: "CASE_STATE_"))"
                + "  queue \(c.queue.isEmpty ? "-" : c.queue)  level \(c.escalationLevel)",
            "  export     \(c.exportID)@\(c.exportVersion)  order \(c.orderID)",
        ]
        let due = due(c)
        if c.state != .resolved && due != .max { lines.append("  due        \(formatTime(due))") }
        if !c.claimedBy.isEmpty { lines.append("  claimed by \(c.claimedBy)") }
        if let resolution = c.resolution, c.state == .resolved {
            lines.append("  resolved   \(shortName(resolution.kind.protoName, prefix: "RESOLUTION_KIND_"))"
                + (resolution.overrideRef.isEmpty ? "" : " \(resolution.overrideRef)") + (resolution.reason.isEmpty ? "" : ": \(resolution.reason)"))
        }
        lines += c.history.map { "    \(formatTime($0.atUnixMs)) \($0.actor): \($0.change)" }
        return lines.joined(separator: "\n")
    }
}
